"""The gateway's app: the public API's routers, its composition root, and the middlewares of
the public edge (rate limits, body cap, security headers)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from starlette.middleware import Middleware

from payflow_gateway.adapters.mongo import DOCUMENTS
from payflow_gateway.api import ROUTERS
from payflow_gateway.body_limit import BodyLimitMiddleware
from payflow_gateway.bootstrap import compose
from payflow_gateway.ids import check_path_ids
from payflow_gateway.metrics_port import without_public_metrics
from payflow_gateway.problems import DOCS, PROBLEMS, install_handlers
from payflow_gateway.security_headers import SecurityHeadersMiddleware
from payflow_gateway.settings import GatewaySettings
from payflow_gateway.throttling import RateLimitMiddleware
from payflow_service import create_service_app

DESCRIPTION = (
    "PayFlow's public API. Authenticate with `Authorization: Bearer <token>`, where the token is "
    "an access token from `POST /v1/auth/login` or an API key. Errors are RFC 9457 "
    "`application/problem+json` documents with a stable `code`."
)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    app = create_service_app(
        service="gateway",
        settings=settings,
        document_models=DOCUMENTS,
        routers=[with_checked_ids(router) for router in ROUTERS],
        compose=compose,
        title="PayFlow API",
        description=DESCRIPTION,
        public=True,
        problems=PROBLEMS,
    )
    install_handlers(app)
    DOCS.install(app)
    # Inside the request context, so that a 429 or a 413 carries the request id and is logged;
    # a request over its rate limit is refused before its body is read.
    app.user_middleware.extend(
        [
            Middleware(RateLimitMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes),
        ]
    )
    # Outermost: every answer, the middlewares' own included, carries the headers.
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)
    if settings.is_production:
        without_public_metrics(app)
    return app


def with_checked_ids(router: APIRouter) -> APIRouter:
    """The router's routes, answering 404 for a path id of the wrong shape before anything else."""
    checked = APIRouter(dependencies=[Depends(check_path_ids)])
    checked.include_router(router)
    return checked
