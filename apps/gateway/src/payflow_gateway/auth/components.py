"""The authentication objects the composition root builds, as the routes find them."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from payflow_gateway.auth.accounts import Accounts
from payflow_gateway.auth.api_keys import ApiKeys
from payflow_gateway.auth.bearer import BearerAuthenticator
from payflow_gateway.auth.sessions import Sessions
from payflow_gateway.auth.users import UserStore

COMPONENT_KEY = "auth"


@dataclass(frozen=True)
class AuthComponents:
    users: UserStore
    accounts: Accounts
    sessions: Sessions
    bearer: BearerAuthenticator
    api_keys: ApiKeys


async def auth_components(request: Request) -> AuthComponents:
    components: AuthComponents = request.app.state.runtime.components[COMPONENT_KEY]
    return components
