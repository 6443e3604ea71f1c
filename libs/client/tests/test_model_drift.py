"""The client's models must say what the gateway answers: field names, JSON types and
nullability. Resources with a schema in the gateway's OpenAPI document are compared with it
(built in-process; every public resource has one); the live answers of the real stack are
compared too. A field added, removed, renamed or retyped on either side fails here."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

import pytest
from pydantic import BaseModel

from payflow_client import models
from payflow_testing.receiver import Receiver

People = Callable[[str], Any]

# client model -> the gateway's OpenAPI component schema
OPENAPI_COUNTERPARTS: dict[type[BaseModel], str] = {
    models.User: "UserPublic",
    models.Wallet: "WalletPublic",
    models.Registered: "Registered",
    models.LedgerEntry: "LedgerEntryPublic",
    models.TokenPair: "TokenPairPublic",
    models.ApiKey: "ApiKeyPublic",
    models.ApiKeyCreated: "ApiKeyCreated",
    models.Problem: "ProblemDetails",
    models.Transfer: "TransferPublic",
    models.HistoryEntry: "TransferHistoryEntry",
    models.WebhookEndpoint: "WebhookEndpoint",
    models.WebhookEndpointCreated: "WebhookEndpointCreated",
    models.SigningSecret: "SigningSecret",
    models.Delivery: "Delivery",
    models.DeliveryAttempt: "DeliveryAttempt",
    models.Event: "Event",
    models.FaultRule: "FaultRule",
    models.BalanceMismatch: "BalanceMismatch",
    models.CurrencyTotals: "CurrencyTotalsPublic",
    models.Reconciliation: "Reconciliation",
}
RENAMED = {gateway: model.__name__ for model, gateway in OPENAPI_COUNTERPARTS.items()}


@cache
def gateway_openapi() -> dict[str, Any]:
    from payflow_gateway.main import create_app
    from payflow_gateway.settings import GatewaySettings

    return create_app(GatewaySettings(_env_file=None, env="test")).openapi()


def shape(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A comparable description of a JSON schema: ("nullable", inner) | "string" | "date-time" |
    "integer" | ("array", item) | ("object", value) | ("model", name)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = defs[name]
        if "enum" in target:  # enumerations are plain strings in the client
            return target.get("type", "string")
        return ("model", RENAMED.get(name, name))
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        inner = (
            shape(options[0], defs) if len(options) == 1 else tuple(shape(o, defs) for o in options)
        )
        return ("nullable", inner) if len(options) < len(schema["anyOf"]) else inner
    kind = schema.get("type")
    if kind is None and "const" in schema:
        kind = "string" if isinstance(schema["const"], str) else "integer"
    if "enum" in schema or "const" in schema:
        return kind
    if kind == "string" and schema.get("format") == "date-time":
        return "date-time"
    if kind == "array":
        return ("array", shape(schema.get("items", {}), defs))
    if kind == "object":
        extra = schema.get("additionalProperties")
        return ("object", shape(extra, defs) if isinstance(extra, dict) and extra else "any")
    return kind or "any"


def fields(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    return {name: shape(prop, defs) for name, prop in schema.get("properties", {}).items()}


def client_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    return schema, schema.get("$defs", {})


@pytest.mark.parametrize("model", list(OPENAPI_COUNTERPARTS), ids=lambda m: m.__name__)
def test_models_match_the_gateway_openapi_schemas(model: type[BaseModel]) -> None:
    components = gateway_openapi()["components"]["schemas"]
    theirs = fields(components[OPENAPI_COUNTERPARTS[model]], components)
    schema, defs = client_schema(model)
    ours = fields(schema, defs)
    assert ours == theirs


def test_every_list_of_the_openapi_document_is_a_data_and_next_cursor_page() -> None:
    components = gateway_openapi()["components"]["schemas"]
    lists = [name for name in components if name.endswith("List")]
    assert lists, "the gateway documents its lists"
    page_fields = set(models.Page[int].model_fields)
    for name in lists:
        assert set(components[name]["properties"]) == page_fields, name


# ---------------------------------------------------------------- live answers


def conforms(expected: Any, value: Any, defs: dict[str, Any], where: str) -> None:
    if isinstance(expected, tuple) and expected[0] == "nullable":
        if value is not None:
            conforms(expected[1], value, defs, where)
        return
    assert value is not None, f"{where} is null but the client says it never is"
    if expected == "any":
        return
    if expected == "string":
        assert isinstance(value, str), where
    elif expected == "date-time":
        assert isinstance(value, str), where
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif expected == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif expected == "number":
        assert isinstance(value, int | float) and not isinstance(value, bool), where
    elif expected == "boolean":
        assert isinstance(value, bool), where
    elif expected[0] == "array":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            conforms(expected[1], item, defs, f"{where}[{i}]")
    elif expected[0] == "object":
        assert isinstance(value, dict), where
        for key, item in value.items():
            conforms(expected[1], item, defs, f"{where}.{key}")
    elif expected[0] == "model":
        matches_live(defs[expected[1]], value, defs, where)
    else:  # pragma: no cover - a shape this test does not know
        raise AssertionError(f"{where}: unknown shape {expected}")


def matches_live(schema: dict[str, Any], value: Any, defs: dict[str, Any], where: str) -> None:
    assert isinstance(value, dict), where
    expected = fields(schema, defs)
    assert set(value) == set(expected), (
        f"{where}: the server sends {sorted(set(value) - set(expected))} that the client lacks, "
        f"the client has {sorted(set(expected) - set(value))} that the server does not send"
    )
    for name, kind in expected.items():
        conforms(kind, value[name], defs, f"{where}.{name}")


def assert_model_matches(model: type[BaseModel], value: Any) -> None:
    schema, defs = client_schema(model)
    matches_live(schema, value, defs, model.__name__)


@pytest.mark.e2e
def test_models_match_live_answers_of_the_real_stack(people: People, admin_client: Any) -> None:
    alice, bob = people("alice"), people("bob")
    http = alice.client._http  # raw JSON, as the server sent it
    headers = {"Authorization": f"Bearer {alice.client.tokens.access_token or ''}"}
    if not alice.client.tokens.access_token:
        alice.client.auth.me()
        headers = {"Authorization": f"Bearer {alice.client.tokens.access_token}"}
    receiver = Receiver()
    receiver.start()
    try:
        endpoint_raw = http.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url("/drift"), "event_types": ["*"]},
            headers=headers,
        ).json()
        assert_model_matches(models.WebhookEndpointCreated, endpoint_raw)
        alice.client.top_ups.create(alice.wallet_id, 5_000, wait=10)
        paid = alice.client.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=1_000,
            currency="USD",
            description="drift",
            metadata={"k": "v"},
            wait=10,
        )
        fault = http.post(
            "/v1/sandbox/faults",
            json={"step": "credit", "mode": "reject", "match_metadata": {"case": "drift"}},
            headers=headers,
        ).json()
        assert_model_matches(models.FaultRule, fault)
        failed = alice.client.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=10,
            currency="USD",
            metadata={"case": "drift"},
            wait=10,
        )
        alice.client.transfers.wait(failed.id, timeout=30)
        alice.client.sandbox.remove_fault(fault["id"])
        bob.client.refunds.create(paid.id, wait=10)

        transfers = http.get("/v1/transfers", headers=headers).json()
        assert set(transfers) == set(models.Page[int].model_fields)
        kinds = {t["kind"] for t in transfers["data"]}
        assert kinds == {"top_up", "transfer", "refund"}
        assert any(t["failure_code"] for t in transfers["data"])
        for raw in transfers["data"]:
            assert_model_matches(models.Transfer, raw)
        assert_model_matches(
            models.Transfer, http.get(f"/v1/transfers/{paid.id}", headers=headers).json()
        )

        deliveries: list[Any] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            deliveries = http.get(
                f"/v1/webhook-endpoints/{endpoint_raw['id']}/deliveries", headers=headers
            ).json()["data"]
            if len(deliveries) >= 4 and all(d["attempts"] for d in deliveries):
                break
            time.sleep(0.2)
        assert deliveries and all(d["attempts"] for d in deliveries)
        for raw in deliveries:
            assert_model_matches(models.Delivery, raw)
        events = http.get("/v1/events", headers=headers).json()["data"]
        assert events
        for raw in events:
            assert_model_matches(models.Event, raw)
        assert receiver.received("/drift")
        for request in receiver.received("/drift"):  # the delivered body is the event resource
            import json

            assert_model_matches(models.Event, json.loads(request.body))
        endpoints = http.get("/v1/webhook-endpoints", headers=headers).json()["data"]
        assert_model_matches(models.WebhookEndpoint, endpoints[0])
        rotated = http.post(
            f"/v1/webhook-endpoints/{endpoint_raw['id']}/rotate-secret", headers=headers
        ).json()
        assert_model_matches(models.SigningSecret, rotated)
    finally:
        receiver.stop()

    admin_client.auth.me()
    report = admin_client._http.get(
        "/v1/admin/reconciliation",
        headers={"Authorization": f"Bearer {admin_client.tokens.access_token}"},
    ).json()
    assert_model_matches(models.Reconciliation, report)
    # A mismatch appears only when a wallet and its ledger account disagree; its fields are
    # compared with the gateway's `BalanceMismatch` schema (OPENAPI_COUNTERPARTS).
