"""`make demo` (payflow_client.demo) once against the real stack, and without one."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from payflow_client import demo


def _console() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, width=200, highlight=False), text


@pytest.mark.e2e
def test_the_demo_runs_every_step_against_the_real_stack(base_url: str) -> None:
    console, text = _console()
    code = demo.main(["--base-url", base_url], console=console)
    out = text.getvalue()
    assert code == 0, out
    assert "Every step behaved." in out
    assert out.count("✓") == 2 * demo.STEPS  # each step's line and its summary row
    assert "failed (compensated)" in out
    assert "verified: transfer.completed of tr_" in out and "transfer.failed of tr_" in out
    assert out.count("trace of tr_") == 3 and "/trace/" in out


def test_without_payflow_running_the_demo_says_how_to_start_it() -> None:
    console, text = _console()
    code = demo.main(["--base-url", "http://127.0.0.1:9"], console=console)
    assert code == 2
    assert "make run" in text.getvalue()
