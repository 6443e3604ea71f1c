"""Who a request is charged to: its client address, and its principal (the user of an access
token, or the API key) when it carries one."""

from __future__ import annotations

from dataclasses import dataclass

from payflow_gateway.auth.tokens import TokenCodec, TokenRejected
from payflow_gateway.domain.api_keys import digest_of, looks_like_api_key
from payflow_gateway.domain.rate_limits import Budget, RequestClass, Standing
from payflow_gateway.domain.tokens import TokenType
from payflow_gateway.throttling.budgets import BudgetKeeper, Limit


@dataclass(frozen=True)
class ClassLimits:
    per_ip: list[Limit]
    per_principal: list[Limit]


class RequestLimits:
    def __init__(
        self,
        keeper: BudgetKeeper,
        codec: TokenCodec,
        table: dict[RequestClass, ClassLimits],
    ) -> None:
        self._keeper = keeper
        self._codec = codec
        self._table = table

    def principal_of(self, authorization: str | None) -> str | None:
        """`usr_...` for a valid access token, `key:<digest>` for an API key, else None.

        A token is checked for its signature only (no store is read): one that is revoked or
        expired is refused by authentication anyway, after being charged here."""
        scheme, _, credential = (authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return None
        if looks_like_api_key(credential):
            return f"key:{digest_of(credential)[:32]}"
        try:
            return self._codec.decode(credential, TokenType.ACCESS).subject
        except TokenRejected:
            return None

    def budgets(self, request_class: RequestClass, principal: str | None) -> list[Budget]:
        limits = self._table[request_class]
        chosen = limits.per_ip + (limits.per_principal if principal else [])
        return [limit.budget for limit in chosen]

    async def charge(
        self, request_class: RequestClass, ip: str, principal: str | None
    ) -> list[Standing]:
        limits = self._table[request_class]
        charges = [(limit, ip) for limit in limits.per_ip]
        if principal is not None:
            charges += [(limit, principal) for limit in limits.per_principal]
        return await self._keeper.charge(charges)
