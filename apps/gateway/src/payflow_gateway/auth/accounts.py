"""Registering users (each with a default wallet) and making sure the bootstrap admin exists."""

from __future__ import annotations

import logging
from dataclasses import replace

from payflow_contracts import new_id
from payflow_contracts.clock import utc_now
from payflow_gateway.auth.passwords import PasswordHasher
from payflow_gateway.domain.errors import BootstrapAdminRefused, EmailTaken
from payflow_gateway.domain.users import Role, User
from payflow_gateway.domain.wallets import Wallet
from payflow_gateway.ports import UserStore, WalletDirectory

logger = logging.getLogger(__name__)


class Accounts:
    def __init__(
        self,
        users: UserStore,
        hasher: PasswordHasher,
        wallets: WalletDirectory,
        default_currency: str,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._wallets = wallets
        self._default_currency = default_currency

    async def register(self, email: str, password: str, name: str) -> tuple[User, Wallet]:
        """The user is inserted first, so that the unique email index picks exactly one winner
        among concurrent registrations before any wallet is opened."""
        user = User(
            id=new_id("usr"),
            email=email,
            name=name,
            role=Role.USER,
            created_at=utc_now(),
        )
        password_hash = await self._hasher.hash(password)
        await self._users.add(user, password_hash)  # EmailTaken: 409 `email_taken`
        try:
            wallet = await self._wallets.open_wallet(user.id, self._default_currency)
        except Exception:
            # Registration is all or nothing for the client: without its wallet the user is
            # withdrawn, so that retrying the registration can succeed. A wallet opened by a
            # call that timed out stays behind, empty and owned by nobody who can log in.
            await self._users.withdraw_unprovisioned(user.id)
            logger.warning("registration withdrawn: the default wallet could not be opened")
            raise
        await self._users.attach_default_wallet(user.id, wallet.id)
        logger.info("user registered", extra={"user_id": user.id, "wallet_id": wallet.id})
        return replace(user, default_wallet_id=wallet.id), wallet

    async def ensure_admin(self, email: str, password: str) -> None:
        """Creates the bootstrap admin when no account has that email; an existing admin keeps
        its password (the variable only seeds a first one). An existing account that is not an
        admin is never promoted: whoever registered the email first would become the admin, so
        start-up stops with `BootstrapAdminRefused`."""
        existing = await self._users.credentials_for(email)
        if existing is None:
            admin = User(
                id=new_id("usr"),
                email=email,
                name="Administrator",
                role=Role.ADMIN,
                created_at=utc_now(),
            )
            try:
                await self._users.add(admin, await self._hasher.hash(password))
                logger.info("bootstrap admin created", extra={"user_id": admin.id})
                return
            except EmailTaken:
                # Another gateway process made the admin meanwhile, or someone registered.
                existing = await self._users.credentials_for(email)
        if existing is None or not existing.user.is_admin:
            raise BootstrapAdminRefused(
                "PAYFLOW_BOOTSTRAP_ADMIN_EMAIL names an account that is not an administrator; "
                "it is never promoted. Choose an email no account uses, or unset "
                "PAYFLOW_BOOTSTRAP_ADMIN_EMAIL and PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD."
            )

    async def profile(self, user_id: str) -> User | None:
        return await self._users.by_id(user_id)
