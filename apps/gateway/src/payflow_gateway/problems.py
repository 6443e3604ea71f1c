"""OpenAPI documentation of the gateway's problem+json answers (RFC 9457)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from payflow_service.problems import PROBLEM_JSON

SCHEMA_NAME = "ProblemDetails"

_DESCRIPTIONS = {
    400: "Bad request: `invalid_cursor` (a cursor this list did not hand out), `bad_request` (a "
    "body that is not readable JSON)",
    401: "Not authenticated: `not_authenticated` or `invalid_token`, with `WWW-Authenticate`",
    403: "An administrator route: `forbidden`",
    404: "Not found",
    409: "Conflict",
    413: "The request body is over `PAYFLOW_MAX_REQUEST_BODY_BYTES`: `payload_too_large`",
    422: "The request is not valid: `validation_error` with `errors: [{loc, msg}]`",
    429: "A rate limit is spent: `rate_limited`, with `Retry-After` and the `RateLimit` fields",
    503: "A service behind the gateway is unavailable: `service_unavailable`; retry",
}


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; `code` is the stable, machine-readable value."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None
    trace_id: str | None = None
    request_id: str | None = None


def problem_responses(*statuses: int, **codes: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the listed statuses. A keyword `s404="wallet_not_found"` replaces
    a status's description with the codes the route answers."""
    return {
        status: {
            "description": codes.get(f"s{status}", _DESCRIPTIONS.get(status, "Error")),
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}}},
        }
        for status in statuses
    }


def document_problems(app: FastAPI) -> None:
    """Adds the problem schema that `problem_responses` refers to, and the 422 every route with
    a body or parameters may answer, to the app's OpenAPI document."""
    build_default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build_default()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas[SCHEMA_NAME] = ProblemDetails.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                # FastAPI documents its own validation answer as JSON `HTTPValidationError`;
                # the gateway answers it as a problem document.
                if "422" in responses:
                    responses["422"] = problem_responses(422)[422]
                # Every /v1 route draws on a rate limit (docs/phases/PHASE-8-HARDENING.md).
                responses.setdefault("429", problem_responses(429)[429])
                # A body that is not readable JSON (400) or over the cap (413); a cursor this
                # list did not hand out (400).
                takes_cursor = any(
                    p.get("name") == "cursor" for p in operation.get("parameters", [])
                )
                if "requestBody" in operation or takes_cursor:
                    responses.setdefault("400", problem_responses(400)[400])
                if "requestBody" in operation:
                    responses.setdefault("413", problem_responses(413)[413])
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
