"""bcrypt password hashing, run in worker threads so that a login never stalls the event loop."""

from __future__ import annotations

import asyncio
import secrets

import bcrypt

# bcrypt reads at most 72 bytes of a password; longer ones are refused at registration.
MAX_PASSWORD_BYTES = 72


class PasswordHasher:
    def __init__(self, rounds: int, dummy_hash: bytes) -> None:
        self._rounds = rounds
        self._dummy_hash = dummy_hash

    @classmethod
    async def create(cls, rounds: int) -> PasswordHasher:
        """A hasher with a dummy hash of the same cost, for logins of unknown emails."""
        dummy_password = secrets.token_urlsafe(24).encode()
        dummy_hash = await asyncio.to_thread(bcrypt.hashpw, dummy_password, bcrypt.gensalt(rounds))
        return cls(rounds, dummy_hash)

    async def hash(self, password: str) -> str:
        hashed = await asyncio.to_thread(
            bcrypt.hashpw, password.encode(), bcrypt.gensalt(self._rounds)
        )
        return hashed.decode()

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """False for a missing hash too, after the same work as a real check, so that the answer
        time does not tell a registered email from an unknown one."""
        candidate = password.encode()
        if password_hash is None or len(candidate) > MAX_PASSWORD_BYTES:
            await asyncio.to_thread(bcrypt.checkpw, b"not the password", self._dummy_hash)
            return False
        return await asyncio.to_thread(bcrypt.checkpw, candidate, password_hash.encode())
