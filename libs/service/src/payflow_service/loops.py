"""The one stop-aware periodic loop of every background task (sweepers, pruners, keepers).

`run_periodically` calls `work` every `interval_s` until `stop` is set. A failing round is logged
and the next one retries: background upkeep must outlive any store outage; it never decides a
payment on its own, so skipping a round delays, never loses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)


async def run_periodically(
    work: Callable[[], Awaitable[Any]],
    *,
    interval_s: float,
    stop: asyncio.Event,
    what: str,
) -> None:
    """Run `work` now and then every `interval_s` seconds until `stop` is set."""
    while not stop.is_set():
        try:
            await work()
        except Exception:  # the next round retries; see the module docstring
            logger.exception("%s failed; retrying in %.1f s", what, interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
