"""How a saga participant honours a sandbox fault carried by a command (none in production,
none on a compensation), and what honouring it means."""

from __future__ import annotations

from enum import StrEnum


class FaultAction(StrEnum):
    NONE = "none"
    REJECT = "reject"
    """Answer the step's business rejection, recorded like a real one."""
    RAISE = "raise"
    """Fail the handler: the message stays pending, is retried, then dead-lettered."""
    IGNORE_COMMAND = "ignore_command"
    """Acknowledge and do nothing at all: no effect, no record, no reply."""


_ACTIONS = {
    "reject": FaultAction.REJECT,
    "error": FaultAction.RAISE,
    "timeout": FaultAction.IGNORE_COMMAND,
}


def fault_action(mode: str | None, *, enabled: bool, compensation: bool) -> FaultAction:
    # Compensations never give up (guarantee 5), so no fault may stand in their way.
    if mode is None or not enabled or compensation:
        return FaultAction.NONE
    try:
        return _ACTIONS[mode]
    except KeyError:
        raise ValueError(f"unknown fault mode {mode!r}") from None
