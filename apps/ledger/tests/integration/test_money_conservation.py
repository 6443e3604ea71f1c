"""Money is conserved across the wallet and the ledger (guarantee 1): the test plays the
orchestrator, running transfers, failures, compensations and top-ups through BOTH services'
real streams, then reconciles every wallet against its ledger account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from payflow_contracts.saga import (
    CancelCredit,
    CreditWallet,
    DebitWallet,
    PostTopUp,
    PostTransfer,
    RefundWallet,
    ReversePosting,
    SagaStep,
    StepOutcome,
)

pytestmark = pytest.mark.integration


TIMEOUT = {"rule_id": "flt_t", "mode": "timeout"}
REJECT = {"rule_id": "flt_r", "mode": "reject"}


@dataclass
class PlayedOrchestrator:
    """Runs each saga's steps in the order the real orchestrator does, one reply at a time."""

    wallet: Any
    ledger: Any
    sagas: int = 0

    def _saga(self) -> str:
        self.sagas += 1
        return f"tr_{self.sagas:04d}"

    async def _step(
        self, service: Any, command: Any, timed_out: bool = False
    ) -> StepOutcome | None:
        if timed_out:  # the step's command carries a timeout fault: no reply will come
            await service.send(command)
            return None
        return (await service.ask(command)).outcome

    async def top_up(self, wallet_id: str, amount: int) -> str:
        saga = self._saga()
        common = {"saga_id": saga, "amount": amount, "currency": "USD"}
        posted = await self._step(
            self.ledger, PostTopUp(**common, step=SagaStep.POST_TOP_UP, wallet_id=wallet_id)
        )
        assert posted is StepOutcome.POSTED
        credited = await self._step(
            self.wallet,
            CreditWallet(**common, step=SagaStep.CREDIT_DESTINATION, wallet_id=wallet_id),
        )
        if credited is StepOutcome.CREDITED:
            return "completed"
        assert credited is StepOutcome.DESTINATION_UNAVAILABLE
        reversed_ = await self._step(
            self.ledger,
            ReversePosting(
                **common, step=SagaStep.REVERSE_POSTING, reverses_step=SagaStep.POST_TOP_UP
            ),
        )
        assert reversed_ is StepOutcome.REVERSED
        return "compensated"

    async def transfer(
        self,
        source: str,
        destination: str,
        amount: int,
        *,
        debit_fault: dict[str, str] | None = None,
        ledger_fault: dict[str, str] | None = None,
        credit_fault: dict[str, str] | None = None,
        fee: int = 0,
    ) -> str:
        """As the orchestrator runs it; with a `fee`, the destination's steps carry the amount
        less the fee (what the ledger credits it)."""
        saga = self._saga()
        common = {"saga_id": saga, "amount": amount, "currency": "USD"}
        net = {**common, "amount": amount - fee}
        debit = DebitWallet(
            **common, step=SagaStep.DEBIT_SOURCE, wallet_id=source, fault=debit_fault
        )
        debited = await self._step(self.wallet, debit, timed_out=debit_fault == TIMEOUT)
        if debited is None:  # timed out: refund (or cancel) it, then the late debit arrives
            refunded = await self._refund(common, source)
            assert refunded is StepOutcome.DEBIT_CANCELLED
            late = await self._step(self.wallet, debit.model_copy(update={"fault": None}))
            assert late is StepOutcome.SOURCE_UNAVAILABLE
            return "failed"
        if debited is not StepOutcome.DEBITED:
            return "failed"
        posting = PostTransfer(
            **common,
            step=SagaStep.POST_TRANSFER,
            source_wallet_id=source,
            destination_wallet_id=destination,
            fee=fee,
            fault=ledger_fault,
        )
        posted = await self._step(self.ledger, posting)
        if posted is StepOutcome.LEDGER_REJECTED:
            assert await self._refund(common, source) is StepOutcome.REFUNDED
            return "compensated"
        assert posted is StepOutcome.POSTED
        credit = CreditWallet(
            **net, step=SagaStep.CREDIT_DESTINATION, wallet_id=destination, fault=credit_fault
        )
        credited = await self._step(self.wallet, credit, timed_out=credit_fault == TIMEOUT)
        if credited is StepOutcome.CREDITED:
            return "completed"
        if credited is None:
            settled = await self._step(
                self.wallet,
                CancelCredit(**net, step=SagaStep.CANCEL_CREDIT, wallet_id=destination),
            )
            assert settled is StepOutcome.CREDIT_CANCELLED
            late = await self._step(self.wallet, credit.model_copy(update={"fault": None}))
            assert late is StepOutcome.DESTINATION_UNAVAILABLE
        else:
            assert credited is StepOutcome.DESTINATION_UNAVAILABLE
        reversed_ = await self._step(
            self.ledger,
            ReversePosting(
                **common, step=SagaStep.REVERSE_POSTING, reverses_step=SagaStep.POST_TRANSFER
            ),
        )
        assert reversed_ is StepOutcome.REVERSED
        assert await self._refund(common, source) is StepOutcome.REFUNDED
        return "compensated"

    async def _refund(self, common: dict[str, Any], source: str) -> StepOutcome | None:
        return await self._step(
            self.wallet, RefundWallet(**common, step=SagaStep.REFUND_SOURCE, wallet_id=source)
        )


@pytest.fixture
async def services(start_service: Any) -> AsyncIterator[PlayedOrchestrator]:
    async with start_service("wallet") as wallet, start_service("ledger") as ledger:
        yield PlayedOrchestrator(wallet, ledger)


async def test_after_transfers_failures_compensations_and_top_ups_every_wallet_matches_its_account(
    services: PlayedOrchestrator,
) -> None:
    saga = services
    wallet = saga.wallet

    async def new_wallet() -> str:
        response = await wallet.client.post(
            "/internal/wallets", json={"owner_id": "usr_1", "currency": "USD"}
        )
        return str(response.json()["id"])

    a, b, c = [await new_wallet() for _ in range(3)]
    topped_up = 0
    for target, amount in ((a, 1_000), (b, 500)):
        assert await saga.top_up(target, amount) == "completed"
        topped_up += amount

    assert await saga.transfer(a, b, 300) == "completed"
    assert await saga.transfer(a, c, 10_000) == "failed"  # insufficient funds
    assert await saga.transfer(a, b, 50, ledger_fault=REJECT) == "compensated"
    assert await saga.transfer(a, b, 20, debit_fault=TIMEOUT) == "failed"
    assert await saga.transfer(b, a, 100, credit_fault=TIMEOUT) == "compensated"

    await wallet.client.post(f"/internal/wallets/{c}/freeze")
    assert await saga.transfer(b, c, 200) == "compensated"  # credit into a frozen wallet
    assert await saga.top_up(c, 100) == "compensated"
    await wallet.client.post(f"/internal/wallets/{c}/unfreeze")
    assert await saga.transfer(b, c, 70) == "completed"

    # Sagas in flight at once, crossing each other's wallets.
    results = await asyncio.gather(
        *(saga.transfer(x, y, 25) for x, y in [(a, b), (b, a), (a, c), (c, b)] * 4)
    )
    assert set(results) <= {"completed", "failed"}

    ledger_balances = (await saga.ledger.get_json("/internal/balances"))["balances"]
    wallet_balances = {
        w: (await wallet.get_json(f"/internal/wallets/{w}"))["balance"] for w in (a, b, c)
    }
    for wallet_id, balance in wallet_balances.items():
        assert balance >= 0
        assert ledger_balances.get(wallet_id, 0) == balance, wallet_id
        account = await saga.ledger.get_json(f"/internal/accounts/{wallet_id}")
        assert account["balance"] == balance
    assert sum(wallet_balances.values()) == topped_up
    assert (await saga.ledger.get_json("/internal/accounts/funding:USD"))["balance"] == -topped_up
    check = await saga.ledger.get_json("/internal/journal/check")
    assert check["balanced"] is True and check["unbalanced"] == []
    assert check["transactions_checked"] > 10


async def test_with_platform_fees_the_wallets_and_the_fee_account_hold_what_was_funded(
    services: PlayedOrchestrator,
) -> None:
    """A payment with a fee posts ONE transaction of three entries (payer debit, merchant credit
    of amount - fee, fees:USD credit); the merchant's wallet is credited net. Completed, refused
    and compensated payments with fees leave the wallets plus the fee account equal to the
    top-ups, and every wallet equal to its ledger account."""
    saga = services
    wallet = saga.wallet

    async def new_wallet() -> str:
        response = await wallet.client.post(
            "/internal/wallets", json={"owner_id": "usr_1", "currency": "USD"}
        )
        return str(response.json()["id"])

    payer, merchant, frozen = [await new_wallet() for _ in range(3)]
    assert await saga.top_up(payer, 10_000) == "completed"
    assert await saga.transfer(payer, merchant, 1_000, fee=59) == "completed"
    assert await saga.transfer(payer, merchant, 500, fee=45, ledger_fault=REJECT) == "compensated"
    assert await saga.transfer(payer, merchant, 300, fee=39, credit_fault=TIMEOUT) == "compensated"
    await wallet.client.post(f"/internal/wallets/{frozen}/freeze")
    assert await saga.transfer(payer, frozen, 400, fee=42) == "compensated"
    results = await asyncio.gather(*(saga.transfer(payer, merchant, 100, fee=33) for _ in range(8)))
    assert results == ["completed"] * 8

    fees = 59 + 8 * 33
    balances = await saga.ledger.get_json("/internal/balances")
    assert balances["system"] == {"funding:USD": -10_000, "fees:USD": fees}
    held = {
        w: (await wallet.get_json(f"/internal/wallets/{w}"))["balance"]
        for w in (payer, merchant, frozen)
    }
    assert held == {payer: 10_000 - 1_000 - 800, merchant: 1_000 - 59 + 8 * (100 - 33), frozen: 0}
    for wallet_id, balance in held.items():
        assert balances["balances"].get(wallet_id, 0) == balance, wallet_id
    assert sum(held.values()) + fees == 10_000
    entries = await saga.ledger.get_json(f"/internal/accounts/{merchant}/entries?limit=100")
    # The merchant's account is credited net; the posting whose credit timed out is reversed.
    assert {e["amount"] for e in entries["data"] if e["direction"] == "credit"} == {941, 67, 261}
    assert [(e["direction"], e["amount"]) for e in entries["data"] if e["kind"] == "reversal"] == [
        ("debit", 261)
    ]
    check = await saga.ledger.get_json("/internal/journal/check")
    assert check["balanced"] is True
