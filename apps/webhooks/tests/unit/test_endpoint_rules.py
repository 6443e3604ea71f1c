"""Endpoint rules: event type subscriptions, secret rotation with overlap, owner edits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from payflow_webhooks.domain.endpoint import (
    DisabledReason,
    EndpointStatus,
    change_endpoint,
    normalize_event_types,
    open_endpoint,
    rotate_secret,
)
from payflow_webhooks.domain.errors import InvalidEventTypes
from payflow_webhooks.schemas import EndpointResource

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def an_endpoint(types: list[str] | None = None):  # type: ignore[no-untyped-def]
    return open_endpoint(
        endpoint_id="we_1",
        owner_id="usr_a",
        url="https://hooks.example.com/",
        event_types=types or ["transfer.completed"],
        description=None,
        now=T0,
    )


def test_event_types_are_known_types_or_the_wildcard_alone() -> None:
    assert normalize_event_types(["transfer.failed", "transfer.created"]) == (
        "transfer.created",
        "transfer.failed",
    )
    assert normalize_event_types(["*"]) == ("*",)
    for bad in ([], ["transfer.disputed"], ["*", "transfer.failed"]):
        with pytest.raises(InvalidEventTypes):
            normalize_event_types(bad)


def test_an_endpoint_wants_only_its_event_types() -> None:
    completed_only = an_endpoint(["transfer.completed"])
    assert completed_only.wants("transfer.completed")
    assert not completed_only.wants("transfer.failed")
    assert an_endpoint(["*"]).wants("transfer.failed")


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends() -> None:
    endpoint = an_endpoint()
    rotated = rotate_secret(endpoint, T0, DAY)
    assert rotated.secret != endpoint.secret
    assert rotated.signing_secrets(T0 + timedelta(hours=23)) == [rotated.secret, endpoint.secret]
    assert rotated.signing_secrets(T0 + DAY) == [rotated.secret]
    assert rotated.version == endpoint.version + 1


def test_a_second_rotation_inside_the_overlap_keeps_every_live_secret() -> None:
    first = an_endpoint()
    second = rotate_secret(first, T0, DAY)
    third = rotate_secret(second, T0 + timedelta(hours=1), DAY)
    assert third.signing_secrets(T0 + timedelta(hours=2)) == [
        third.secret,
        first.secret,
        second.secret,
    ]


def test_re_enabling_an_endpoint_forgets_why_and_since_when_it_failed() -> None:
    endpoint = replace(
        an_endpoint(),
        status=EndpointStatus.DISABLED,
        disabled_reason=DisabledReason.RECEIVER_GONE,
        failing_since=T0,
    )
    enabled = change_endpoint(endpoint, T0, status=EndpointStatus.ENABLED)
    assert enabled.enabled and enabled.disabled_reason is None and enabled.failing_since is None
    disabled = change_endpoint(enabled, T0, status=EndpointStatus.DISABLED)
    assert disabled.disabled_reason is DisabledReason.BY_OWNER


def test_an_edit_changes_only_what_it_names() -> None:
    endpoint = an_endpoint()
    edited = change_endpoint(endpoint, T0, description="ops hook")
    assert edited.url == endpoint.url and edited.event_types == endpoint.event_types
    assert edited.description == "ops hook"
    assert change_endpoint(edited, T0, clear_description=True).description is None


def test_the_endpoint_resource_never_shows_a_secret() -> None:
    view = EndpointResource.of(rotate_secret(an_endpoint(), T0, DAY)).model_dump(mode="json")
    assert "secret" not in view and "whsec_" not in str(view)
    assert view["created_at"] == "2026-03-01T12:00:00Z"
