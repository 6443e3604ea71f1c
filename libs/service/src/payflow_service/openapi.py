"""OpenAPI documentation of problem+json answers (RFC 9457), for a service that publishes its
OpenAPI document (the gateway).

    docs = ProblemDocs({404: "Not found", 429: "A rate limit is spent: `rate_limited`", ...})
    @router.get("/things/{id}", responses=docs.responses(404, s404="`thing_not_found`"))
    ...
    docs.install(app)   # the `ProblemDetails` schema, and the answers every route may give

`descriptions` are the service's words for each status; a keyword `s404="..."` replaces one
status's description on one route with the codes that route answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from payflow_service.problems import PROBLEM_JSON

SCHEMA_NAME = "ProblemDetails"


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


class ProblemDocs:
    def __init__(self, descriptions: Mapping[int, str]) -> None:
        self._descriptions = dict(descriptions)

    def responses(self, *statuses: int, **codes: str) -> dict[int | str, dict[str, Any]]:
        """`responses=` entries for the listed statuses, each a `ProblemDetails` document."""
        return {
            status: {
                "description": codes.get(f"s{status}", self._descriptions.get(status, "Error")),
                "content": {
                    PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}}
                },
            }
            for status in statuses
        }

    def install(self, app: FastAPI, *, rate_limited: bool = True) -> None:
        """Adds the problem schema that `responses` refers to to the app's OpenAPI document,
        answers FastAPI's own 422 as a problem document, and documents on every route what any
        route may answer: 429 (`rate_limited`), 400 for a body that is not readable JSON or a
        cursor the list did not hand out, 413 for a body over the cap."""
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
                    self._complete(operation, rate_limited)
            app.openapi_schema = schema
            return schema

        app.openapi = openapi  # type: ignore[method-assign]

    def _complete(self, operation: dict[str, Any], rate_limited: bool) -> None:
        responses = operation.get("responses", {})
        # FastAPI documents its own validation answer as JSON `HTTPValidationError`; the
        # service answers it as a problem document.
        if "422" in responses:
            responses["422"] = self.responses(422)[422]
        if rate_limited:
            responses.setdefault("429", self.responses(429)[429])
        takes_cursor = any(p.get("name") == "cursor" for p in operation.get("parameters", []))
        if "requestBody" in operation or takes_cursor:
            responses.setdefault("400", self.responses(400)[400])
        if "requestBody" in operation:
            responses.setdefault("413", self.responses(413)[413])
