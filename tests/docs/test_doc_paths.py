"""Every repository path the documentation names exists: a doc that points at a moved or deleted
module fails here instead of misleading its reader."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# A repository-relative path: starts at a top-level folder, has at least one more segment.
PATH = re.compile(r"(?<![\w./-])((?:apps|libs|tests|deploy|docs|\.github)/[\w./{}*-]+)")


def named_paths(text: str) -> set[str]:
    found = set()
    for match in PATH.finditer(text):
        path = match.group(1).rstrip(".,:;)")
        if any(ch in path for ch in "{}*") or path.endswith("/..."):
            continue  # a pattern (apps/*/src), not a path
        found.add(path)
    return found


def test_every_path_named_in_the_docs_exists() -> None:
    missing = {
        f"{doc.relative_to(ROOT)}: {path}"
        for doc in DOCS
        for path in named_paths(doc.read_text(encoding="utf-8"))
        if not (ROOT / path).exists()
    }
    assert not missing, sorted(missing)


# The service each phase document describes: its module tables name paths inside that service.
PHASE_APPS = {
    "PHASE-2": "gateway",
    "PHASE-3": "wallet",
    "PHASE-4": "orchestrator",
    "PHASE-5": "ledger",
    "PHASE-6": "webhooks",
    "PHASE-8": "gateway",
}
TABLE_ROW = re.compile(r"^\| `([\w./-]+\.py)` \|", re.M)


def test_every_module_table_row_of_a_phase_document_names_a_module_that_exists() -> None:
    missing, checked = [], 0
    for doc in sorted((ROOT / "docs" / "phases").glob("PHASE-*.md")):
        app = next((a for key, a in PHASE_APPS.items() if doc.name.startswith(key)), None)
        bases = [ROOT]
        if app is not None:
            bases += [ROOT / f"apps/{app}/src/payflow_{app}", ROOT / f"apps/{app}/tests"]
        for path in TABLE_ROW.findall(doc.read_text(encoding="utf-8")):
            checked += 1
            if not any((base / path).exists() for base in bases):
                missing.append(f"{doc.name}: {path}")
    assert not missing, missing
    assert checked >= 20  # the tables are still there to check
