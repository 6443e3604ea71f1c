"""Which spans are kept: parent-based by ratio when exporting, none when nothing exports, and
the gateway deciding for itself what a client's `traceparent` asked."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from payflow_observability.tracing import _sampler, sample_ratio

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def decision(sampler: Sampler, parent_sampled: bool | None) -> Decision:
    context = None
    if parent_sampled is not None:
        flags = TraceFlags(TraceFlags.SAMPLED if parent_sampled else TraceFlags.DEFAULT)
        parent = SpanContext(TRACE_ID, 0x00F067AA0BA902B7, is_remote=True, trace_flags=flags)
        context = trace.set_span_in_context(NonRecordingSpan(parent))
    return sampler.should_sample(context, TRACE_ID, "POST /v1/transfers").decision


def test_nothing_is_recorded_when_nothing_exports() -> None:
    assert decision(_sampler(exporting=False), None) is Decision.DROP
    assert decision(_sampler(exporting=False), True) is Decision.DROP


def test_every_payment_is_kept_by_default_and_services_follow_their_caller() -> None:
    inner = _sampler(exporting=True)
    assert decision(inner, None) is Decision.RECORD_AND_SAMPLE
    assert decision(inner, True) is Decision.RECORD_AND_SAMPLE
    assert decision(inner, False) is Decision.DROP  # the gateway decided: no half traces


def test_the_gateway_decides_for_itself_whatever_a_client_sent() -> None:
    edge = _sampler(exporting=True, edge=True)
    assert decision(edge, False) is Decision.RECORD_AND_SAMPLE
    assert decision(edge, True) is Decision.RECORD_AND_SAMPLE


def test_a_ratio_of_zero_keeps_only_what_a_sampled_parent_asks_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYFLOW_TRACE_SAMPLE_RATIO", "0")
    sampler = _sampler(exporting=True)
    assert decision(sampler, None) is Decision.DROP
    assert decision(sampler, True) is Decision.RECORD_AND_SAMPLE


@pytest.mark.parametrize(("raw", "ratio"), [("0.25", 0.25), ("7", 1.0), ("-1", 0.0), ("x", 1.0)])
def test_the_ratio_setting_is_clamped_and_defaults_to_one(
    monkeypatch: pytest.MonkeyPatch, raw: str, ratio: float
) -> None:
    monkeypatch.setenv("PAYFLOW_TRACE_SAMPLE_RATIO", raw)
    assert sample_ratio() == ratio
