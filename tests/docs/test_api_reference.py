"""docs/api.md against the code: the gateway's routes, every problem `code` the services raise,
the transfer states, failure codes and webhook event types.

The gateway's OpenAPI document is built in-process (`create_app().openapi()` needs no lifespan:
no store, no server), so this runs in well under a second once the imports are done.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi import FastAPI

from payflow_contracts.events import TransferEventType
from payflow_gateway.domain.idempotency import MAX_KEY_LENGTH
from payflow_gateway.idempotency import KEY_TTL
from payflow_gateway.ids import PATH_IDS
from payflow_gateway.main import create_app
from payflow_gateway.settings import GatewaySettings
from payflow_gateway.transfers import MAX_WAIT_S
from payflow_orchestrator.domain.saga_machine import FailureCode, PublicStatus, SagaKind, SagaState
from payflow_service import problems as service_problems
from payflow_webhooks.settings import DEFAULT_RETRY_SCHEDULE

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"
SOURCES = sorted(
    path for pattern in ("apps/*/src/**/*.py", "libs/*/src/**/*.py") for path in ROOT.glob(pattern)
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ROUTE_HEADING = re.compile(r"^#{2,4} (GET|POST|PUT|PATCH|DELETE) (/\S*)\s*$", re.MULTILINE)
ROUTE_MENTION = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[A-Za-z0-9_./{}-]*)")
CODE_ROW = re.compile(r"^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|", re.MULTILINE)

# `ProblemError(404, "wallet_not_found", ...)`, a subclass's `super().__init__(503, "...")`, and
# the shared handlers' `problem_response(422, "validation_error", ...)`, and a service's catalogue
# entry `Problem(409, "wallet_closed", ...)` (its `problems.py`).
LITERAL_PROBLEM = re.compile(
    r"(?:ProblemError|\bProblem|__init__|problem_response)\(\s*(\d{3}),\s*\"([a-z_]+)\""
)
PROBLEM_CALL = re.compile(r"(?<!class )\bProblemError\(")
# Idempotency-Key problems are raised as `ProblemError(400, problem.code, ...)`.
KEY_PROBLEM = re.compile(r"KeyProblem\(\s*\"([a-z_]+)\"")
# Payment-link refusals carry their status and code: `LinkRefused(410, "payment_link_expired", ...)`.
LINK_REFUSAL = re.compile(r"LinkRefused\(\s*(\d{3}),\s*\"([a-z_]+)\"")
IDEMPOTENT_PY = "apps/gateway/src/payflow_gateway/idempotency.py"
DYNAMIC_CODE_SITES = {
    # The code comes from a KeyProblem (collected above, always 400).
    IDEMPOTENT_PY,
    # A service's refusal passed on with the code that service sent (collected from its source).
    "apps/gateway/src/payflow_gateway/adapters/http.py",
    # An id of the wrong shape answers its resource's 404 (collected from PATH_IDS).
    "apps/gateway/src/payflow_gateway/ids.py",
    # A payment-link refusal passed on with its status and code (`LINK_REFUSAL`, collected).
    "apps/orchestrator/src/payflow_orchestrator/api.py",
    # `Problem.error()`: a catalogue entry's own literal status and code (collected above).
    "libs/service/src/payflow_service/problems.py",
}
NOT_IN_SCHEMA = {
    # The payment link's hosted page, its script, style and QR codes: not JSON API routes.
    ("GET", "/pay/{link_id}"),
    ("GET", "/pay/assets/pay.js"),
    ("GET", "/pay/assets/pay.css"),
    ("GET", "/pay/assets/icon.svg"),
    ("GET", "/pay/{link_id}/qr.png"),
    ("GET", "/pay/{link_id}/qr.svg"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    # Explicit values win over the environment, so a PAYFLOW_ENV=production shell changes nothing.
    return create_app(GatewaySettings(_env_file=None, env="test"))  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def openapi(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


@pytest.fixture(scope="module")
def api_md() -> str:
    return API_MD.read_text(encoding="utf-8")


def schema_routes(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in openapi["paths"].items()
        for method in operations
        if method.upper() in METHODS
    }


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """The routes the app itself declares (health, metrics, docs: left out of the OpenAPI
    document); the routers' routes are the document's."""
    routes: list[Any] = []
    for route in app.routes:
        # FastAPI keeps an included router as one entry; its routes are its route contexts.
        contexts = getattr(route, "effective_route_contexts", None)
        routes += list(contexts()) if callable(contexts) else [route]
    return {
        (method, path)
        for route in routes
        if isinstance(path := getattr(route, "path", None), str)
        for method in getattr(route, "methods", None) or ()
        if method in METHODS
    }


def raised_problems() -> dict[str, set[int]]:
    """Every (code, status) a service can answer with, read from the sources."""
    found: dict[str, set[int]] = {}
    dynamic: set[str] = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for status, code in LITERAL_PROBLEM.findall(text):
            found.setdefault(code, set()).add(int(status))
        for code in KEY_PROBLEM.findall(text):
            found.setdefault(code, set()).add(400)
        for status, code in LINK_REFUSAL.findall(text):
            found.setdefault(code, set()).add(int(status))
        for call in PROBLEM_CALL.finditer(text):
            if not LITERAL_PROBLEM.match(text, call.start()):
                dynamic.add(path.relative_to(ROOT).as_posix())
    assert dynamic <= DYNAMIC_CODE_SITES, (
        f"ProblemError raised with a code that is not a literal in {sorted(dynamic - DYNAMIC_CODE_SITES)}: "
        "make it a literal, or teach this test where its codes come from"
    )
    idempotent = (ROOT / IDEMPOTENT_PY).read_text(encoding="utf-8")
    assert "ProblemError(400, problem.code" in idempotent, "KeyProblem codes are no longer 400"
    for status, code in service_problems._CODES_BY_STATUS.items():
        found.setdefault(code, set()).add(status)
    for _prefix, code, _detail in PATH_IDS.values():
        found.setdefault(code, set()).add(404)
    return found


def test_the_openapi_document_builds_without_stores_and_lists_the_v1_routes(
    openapi: dict[str, Any],
) -> None:
    routes = schema_routes(openapi)
    assert ("POST", "/v1/transfers") in routes
    assert all(path.startswith("/v1/") for _, path in routes)


def test_every_answer_with_a_body_has_a_schema(openapi: dict[str, Any]) -> None:
    """Every public resource is typed: a JSON answer refers to a named schema (or a list of
    one), an event stream's events carry one; CSV is documented as text."""
    schemas = openapi["components"]["schemas"]
    untyped = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                for media, body in response.get("content", {}).items():
                    schema = body.get("schema", {})
                    ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
                    if media.endswith("json") and not (ref and ref.split("/")[-1] in schemas):
                        untyped.append(f"{method.upper()} {path} {status} {media}")
                    if media == "text/event-stream":
                        data = schema.get("properties", {}).get("data", {})
                        ref = data.get("contentSchema", {}).get("$ref", "")
                        if ref.split("/")[-1] not in schemas:
                            untyped.append(f"{method.upper()} {path} {status} {media}")
                    elif not media.endswith("json") and schema.get("type") != "string":
                        untyped.append(f"{method.upper()} {path} {status} {media}")
    assert not untyped, untyped
    assert "TransferPublic" in schemas and schemas["TransferPublic"].get("examples")


def test_every_route_of_the_openapi_document_has_its_section_in_api_md(
    openapi: dict[str, Any], api_md: str
) -> None:
    headings = set(ROUTE_HEADING.findall(api_md))
    missing = sorted(schema_routes(openapi) - headings)
    assert not missing, f"routes without a `### METHOD /path` section in docs/api.md: {missing}"


def test_every_route_api_md_names_exists(
    app: FastAPI, openapi: dict[str, Any], api_md: str
) -> None:
    assert app_routes(app) >= NOT_IN_SCHEMA
    served = schema_routes(openapi) | NOT_IN_SCHEMA
    unknown = sorted(set(ROUTE_MENTION.findall(api_md)) - served)
    assert not unknown, f"docs/api.md names routes the gateway does not serve: {unknown}"


def test_each_route_has_one_section(api_md: str) -> None:
    headings = ROUTE_HEADING.findall(api_md)
    repeated = sorted({h for h in headings if headings.count(h) > 1})
    assert not repeated, f"routes with more than one section in docs/api.md: {repeated}"


def test_every_problem_code_is_in_the_error_tables_with_its_status(api_md: str) -> None:
    documented: dict[str, set[int]] = {}
    for code, status in CODE_ROW.findall(api_md):
        documented.setdefault(code, set()).add(int(status))
    raised = raised_problems()
    assert {"wallet_not_found", "idempotency_key_missing", "service_unavailable"} <= set(raised)
    missing = sorted(
        f"{status} {code}"
        for code, statuses in raised.items()
        for status in statuses - documented.get(code, set())
    )
    assert not missing, f"problem codes missing from the error tables of docs/api.md: {missing}"


@pytest.mark.parametrize(
    ("what", "values"),
    [
        ("transfer state", [s.value for s in SagaState]),
        ("transfer status", [s.value for s in PublicStatus]),
        ("transfer kind", [k.value for k in SagaKind]),
        ("failure code", [f.value for f in FailureCode]),
        ("webhook event type", list(get_args(TransferEventType))),
    ],
)
def test_every_value_clients_see_is_documented(what: str, values: list[str], api_md: str) -> None:
    missing = [v for v in values if f"`{v}`" not in api_md]
    assert not missing, f"{what}s missing from docs/api.md: {missing}"


def test_the_documented_limits_are_the_codes(api_md: str) -> None:
    assert KEY_TTL.total_seconds() == 24 * 3600 and "expire 24 hours" in api_md
    assert f"1 to {MAX_KEY_LENGTH} printable ASCII" in api_md
    assert f"N is capped at {MAX_WAIT_S:g}" in api_md
    assert f"`{DEFAULT_RETRY_SCHEDULE}`" in api_md


def test_the_documented_quotas_are_the_settings_defaults(api_md: str) -> None:
    from payflow_orchestrator.settings import OrchestratorSettings
    from payflow_wallet.settings import WalletSettings
    from payflow_webhooks.settings import WebhooksSettings

    defaults = {
        "PAYFLOW_MAX_WALLETS_PER_USER": WalletSettings,
        "PAYFLOW_MAX_API_KEYS_PER_USER": GatewaySettings,
        "PAYFLOW_MAX_WEBHOOK_ENDPOINTS_PER_USER": WebhooksSettings,
        "PAYFLOW_MAX_FAULT_RULES_PER_USER": OrchestratorSettings,
        "PAYFLOW_MAX_DELIVERY_RETRIES_PER_HOUR": WebhooksSettings,
    }
    quotas = api_md.split("## Quotas", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| [^|]+ \| (\d+) \| `(PAYFLOW_[A-Z_]+)`", quotas, re.MULTILINE)
    assert {setting for _, setting in rows} == set(defaults)
    for cap, setting in rows:
        field = setting.removeprefix("PAYFLOW_").lower()
        assert defaults[setting].model_fields[field].default == int(cap), setting
