"""The committed saga diagram is the generator's output and draws every transition."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from payflow_orchestrator.domain.diagram import DOCUMENTED_KINDS, edge_label, render_document
from payflow_orchestrator.domain.saga_machine import (
    SagaEvent,
    SagaKind,
    SagaState,
    decide,
    initial_state,
    is_terminal,
    transition_table,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
DIAGRAM = REPO_ROOT / "docs" / "saga-diagram.md"
REGENERATE = "python -m payflow_orchestrator.domain.diagram > docs/saga-diagram.md"

_MERMAID_BLOCK = re.compile(r"```mermaid\n(.*?)```", re.DOTALL)
_EDGE = re.compile(r"^\s*(\S+) --> (\S+?)(?:: (.*))?$")


def _edges(block: str) -> set[tuple[str, str, str]]:
    edges = set()
    for line in block.splitlines():
        match = _EDGE.match(line)
        if match:
            source, target, label = match.groups()
            edges.add((source, target, label or ""))
    return edges


def _diagrams() -> dict[SagaKind, str]:
    blocks = _MERMAID_BLOCK.findall(render_document())
    pairs = zip(DOCUMENTED_KINDS, blocks, strict=True)
    return {kind: block for (kind, _title, _summary), block in pairs}


def test_the_committed_diagram_is_the_generator_output() -> None:
    assert DIAGRAM.read_text(encoding="utf-8") == render_document(), f"run `{REGENERATE}`"


def test_running_the_module_prints_the_document() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "payflow_orchestrator.domain.diagram"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    assert printed == render_document()


def test_the_diagram_documents_every_table() -> None:
    documented = {kind for kind, _title, _summary in DOCUMENTED_KINDS}

    # Refunds run the transfer table, so the transfer drawing is theirs too.
    assert documented == {SagaKind.TRANSFER, SagaKind.TOP_UP}
    assert transition_table(SagaKind.REFUND) == transition_table(SagaKind.TRANSFER)


@pytest.mark.parametrize("kind", [SagaKind.TRANSFER, SagaKind.TOP_UP])
def test_every_transition_appears_as_an_edge_and_nothing_else_does(kind: SagaKind) -> None:
    drawn = _edges(_diagrams()[kind])
    expected = {
        (str(state), str(transition.next_state), edge_label(event, transition))
        for (state, event), transition in transition_table(kind).items()
    }
    start = {edge for edge in drawn if edge[0] == "[*]"}
    ends = {edge for edge in drawn if edge[1] == "[*]"}

    assert drawn - start - ends == expected
    assert {(source, target) for source, target, _label in start} == {
        ("[*]", str(initial_state(kind)))
    }
    assert all(is_terminal(SagaState(source)) for source, _target, _label in ends)


def test_an_edge_label_names_the_reply_and_the_command_it_sends() -> None:
    event = SagaEvent.DESTINATION_UNAVAILABLE
    credit_refused = decide(SagaKind.TRANSFER, SagaState.CREDITING_DESTINATION, event)

    assert edge_label(event, credit_refused) == "destination_unavailable / reverse_posting"
