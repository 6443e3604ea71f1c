"""Composition root of the gateway service: the one place that wires its adapters.

The public API is a list of modules; a new slice of it is one more line in `gateway_modules`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from starlette.middleware import Middleware

from payflow_gateway.auth.composition import auth_module
from payflow_gateway.body_limit import BodyLimitMiddleware
from payflow_gateway.ids import check_path_ids
from payflow_gateway.links.composition import links_module
from payflow_gateway.metrics_port import metrics_module, without_public_metrics
from payflow_gateway.modules import GatewayModule, compose_modules
from payflow_gateway.payments.composition import payments_module
from payflow_gateway.problems import document_problems
from payflow_gateway.security_headers import SecurityHeadersMiddleware
from payflow_gateway.settings import GatewaySettings
from payflow_gateway.statements.composition import statements_module
from payflow_gateway.throttling.composition import throttling_module
from payflow_gateway.throttling.middleware import RateLimitMiddleware
from payflow_gateway.wallets.composition import wallets_module
from payflow_gateway.webhooks.composition import webhooks_module
from payflow_service import create_service_app

DESCRIPTION = (
    "PayFlow's public API. Authenticate with `Authorization: Bearer <token>`, where the token is "
    "an access token from `POST /v1/auth/login` or an API key. Errors are RFC 9457 "
    "`application/problem+json` documents with a stable `code`."
)


def gateway_modules() -> list[GatewayModule]:
    """In wiring order: a module's `compose` may use the components of those before it."""
    return [
        wallets_module(),
        auth_module(),
        statements_module(),  # before payments: /v1/transfers/export.csv before /{transfer_id}
        payments_module(),
        links_module(),
        webhooks_module(),
        metrics_module(),
        throttling_module(),
    ]


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    modules = gateway_modules()
    app = create_service_app(
        service="gateway",
        settings=settings,
        document_models=[doc for module in modules for doc in module.documents],
        routers=[with_checked_ids(router) for module in modules for router in module.routers],
        compose=compose_modules(modules),
        title="PayFlow API",
        description=DESCRIPTION,
        public=True,
    )
    document_problems(app)
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
