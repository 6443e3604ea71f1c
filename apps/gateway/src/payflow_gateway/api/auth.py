"""Public routes: registration, sessions, the caller's profile, and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from payflow_gateway.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyPublic,
    LoginRequest,
    RefreshRequest,
    Registered,
    TokenPairPublic,
    UserCreate,
    UserPublic,
    WalletPublic,
)
from payflow_gateway.auth.sessions import TokenPair
from payflow_gateway.deps import AccountsDep, ApiKeysDep, CurrentUser, Logins, SessionsDep
from payflow_gateway.domain.errors import InvalidCredentials
from payflow_gateway.problems import problem_responses
from payflow_service.paging import IdCursor
from payflow_service.quotas import QuotaExceeded, quota_problem

auth_router = APIRouter(prefix="/v1/auth", tags=["auth"])
api_keys_router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])

Limit = Annotated[int, Query(ge=1, le=100)]


def _pair(pair: TokenPair) -> TokenPairPublic:
    return TokenPairPublic(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@auth_router.post(
    "/register",
    status_code=201,
    responses=problem_responses(409, 422, 503, s409="`email_taken`"),
    summary="Create an account and its default wallet",
)
async def register(body: UserCreate, accounts: AccountsDep) -> Registered:
    user, wallet = await accounts.register(str(body.email), body.password, body.name)
    return Registered(
        user=UserPublic.model_validate(user), wallet=WalletPublic.model_validate(wallet)
    )


@auth_router.post(
    "/login",
    responses=problem_responses(
        401,
        422,
        429,
        s401="`invalid_credentials`",
        s429="`rate_limited`: too many attempts for this email (a lock after failures in a row "
        "lasts longer with each one); retry after `Retry-After` seconds",
    ),
    summary="Exchange email and password for an access and a refresh token",
)
async def login(
    body: LoginRequest, request: Request, sessions: SessionsDep, logins: Logins
) -> TokenPairPublic:
    client = request.client.host if request.client else "unknown"
    await logins.admit(body.email, client)
    try:
        pair = await sessions.log_in(body.email, body.password)
    except InvalidCredentials:
        await logins.failed(body.email, client)
        raise
    await logins.succeeded(body.email, client)
    return _pair(pair)


@auth_router.post(
    "/refresh",
    responses=problem_responses(
        401,
        422,
        s401="`invalid_token`, or `token_reused`: a spent refresh token came back and its "
        "whole family is revoked",
    ),
    summary="Spend a refresh token for a new pair (each refresh token works once)",
)
async def refresh(body: RefreshRequest, sessions: SessionsDep) -> TokenPairPublic:
    return _pair(await sessions.rotate(body.refresh_token))


@auth_router.post(
    "/logout",
    status_code=204,
    responses=problem_responses(422),
    summary="End the session of a refresh token",
)
async def logout(body: RefreshRequest, sessions: SessionsDep) -> Response:
    await sessions.log_out(body.refresh_token)
    return Response(status_code=204)


@auth_router.get("/me", responses=problem_responses(401), summary="The authenticated user")
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@api_keys_router.post(
    "",
    status_code=201,
    responses=problem_responses(
        401, 409, 422, s409="`quota_exceeded`: the most active keys one user may hold"
    ),
    summary="Create an API key; its secret is shown only in this answer",
)
async def create_api_key(body: ApiKeyCreate, user: CurrentUser, keys: ApiKeysDep) -> ApiKeyCreated:
    try:
        key, secret = await keys.issue(user.id, body.name)
    except QuotaExceeded as exceeded:
        raise quota_problem(exceeded, "API keys", "PAYFLOW_MAX_API_KEYS_PER_USER") from None
    return ApiKeyCreated(
        id=key.id, name=key.name, prefix=key.display_prefix, created_at=key.created_at, key=secret
    )


@api_keys_router.get("", responses=problem_responses(401, 422), summary="The caller's API keys")
async def list_api_keys(
    user: CurrentUser, keys: ApiKeysDep, cursor: IdCursor, limit: Limit = 20
) -> ApiKeyList:
    page = await keys.keys_of(user.id, limit, cursor)
    return ApiKeyList(
        data=[
            ApiKeyPublic(id=k.id, name=k.name, prefix=k.display_prefix, created_at=k.created_at)
            for k in page.items
        ],
        next_cursor=page.next_cursor,
    )


@api_keys_router.delete(
    "/{key_id}",
    status_code=204,
    responses=problem_responses(401, 404, s404="`api_key_not_found`"),
    summary="Revoke an API key; it stops working at once",
)
async def revoke_api_key(key_id: str, user: CurrentUser, keys: ApiKeysDep) -> Response:
    await keys.revoke(user.id, key_id)
    return Response(status_code=204)
