"""docs/architecture.md lists every service's exception tree with the answer each class gets, as
the code has it: a class added, moved or mapped differently fails here until the list follows."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "orchestrator", "wallet", "ledger", "webhooks")


def root_of(errors: ModuleType) -> type[Exception]:
    own = [
        v
        for v in vars(errors).values()
        if isinstance(v, type) and issubclass(v, Exception) and v.__module__ == errors.__name__
    ]
    [root] = [v for v in own if not any(v is not b and issubclass(v, b) for b in own)]
    return root


def answer(kind: type[Exception], problems: ModuleType) -> str:
    handled = set(getattr(problems, "ANSWERED_BY_HANDLER", ()))
    for cls in kind.__mro__:
        if cls in problems.PROBLEMS:
            problem = problems.PROBLEMS[cls]
            return f"{problem.status} `{problem.code}`"
        if cls in handled:
            return "its own handler"
        if cls in problems.INTERNAL:
            return "internal, or answered by its route with the details it carries"
    return "unmapped"


def tree(kind: type[Exception], problems: ModuleType, depth: int = 0) -> list[str]:
    lines = []
    for child in sorted(kind.__subclasses__(), key=lambda c: c.__name__):
        lines.append(f"{'  ' * depth}- `{child.__name__}`: {answer(child, problems)}")
        lines += tree(child, problems, depth + 1)
    return lines


def expected_section() -> str:
    lines: list[str] = []
    for service in SERVICES:
        errors = importlib.import_module(f"payflow_{service}.domain.errors")
        problems = importlib.import_module(f"payflow_{service}.problems")
        root = root_of(errors)
        lines += [f"**{service}**: `{root.__name__}`", "", *tree(root, problems), ""]
    return "\n".join(lines)


def test_the_architecture_page_lists_every_exception_and_its_answer() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    expected = expected_section()
    assert expected in page, (
        f"docs/architecture.md, section Exception trees, should read:\n\n{expected}"
    )
