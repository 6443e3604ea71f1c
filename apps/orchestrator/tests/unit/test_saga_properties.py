"""Sagas driven through in-memory participants under duplicated, reordered, lost and late messages.

The wallet and ledger models follow the participants' contract: each operation id
(`<saga>:<step>`) takes effect at most once, a repeat is answered with the first recorded outcome,
and a compensation for a step that never happened records that step as cancelled.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payflow_contracts.saga import SagaStep, StepOutcome, operation_id
from payflow_orchestrator.domain.saga_machine import (
    FailureCode,
    SagaEvent,
    SagaKind,
    SagaState,
    awaited_step,
    carried_failure_code,
    decide,
    event_for,
    initial_commands,
    initial_state,
    is_compensating,
    is_terminal,
    transition_table,
)

FUNDING_ACCOUNT = "ledger:funding"
# Re-sends of a forward step before the sweeper gives up on it with STEP_TIMED_OUT.
GIVE_UP_AFTER = 2
WALLET_STEPS = frozenset(
    {
        SagaStep.DEBIT_SOURCE,
        SagaStep.CREDIT_DESTINATION,
        SagaStep.REFUND_SOURCE,
        SagaStep.CANCEL_CREDIT,
    }
)


@dataclass(frozen=True)
class SagaSpec:
    saga_id: str
    kind: SagaKind
    source: str | None  # None for a top-up: the ledger's funding account pays
    destination: str
    amount: int


@dataclass(frozen=True)
class Command:
    saga: SagaSpec
    step: SagaStep

    @property
    def operation_id(self) -> str:
        return operation_id(self.saga.saga_id, self.step)


@dataclass(frozen=True)
class Reply:
    saga_id: str
    step: SagaStep
    outcome: StepOutcome


Message = Command | Reply


@dataclass(frozen=True)
class Scenario:
    balances: dict[str, int]
    frozen: frozenset[str]
    sagas: tuple[SagaSpec, ...]
    ledger_rejects: frozenset[str]


# ---------------------------------------------------------------- participants


class WalletModel:
    def __init__(self, balances: dict[str, int], frozen: frozenset[str]) -> None:
        self.balances = dict(balances)
        self.frozen = frozen
        self.answers: dict[str, StepOutcome] = {}
        self.cancelled: set[str] = set()
        self.effects: list[tuple[str, str, int]] = []  # (operation id, wallet, delta)

    def handle(self, command: Command) -> StepOutcome:
        op = command.operation_id
        if op not in self.answers:
            self.answers[op] = self._apply(command)
        return self.answers[op]

    def _apply(self, command: Command) -> StepOutcome:
        saga, op = command.saga, command.operation_id
        match command.step:
            case SagaStep.DEBIT_SOURCE:
                assert saga.source is not None
                if op in self.cancelled or saga.source in self.frozen:
                    return StepOutcome.SOURCE_UNAVAILABLE
                if self.balances[saga.source] < saga.amount:
                    return StepOutcome.INSUFFICIENT_FUNDS
                self._move(op, saga.source, -saga.amount)
                return StepOutcome.DEBITED
            case SagaStep.REFUND_SOURCE:
                assert saga.source is not None
                debit = operation_id(saga.saga_id, SagaStep.DEBIT_SOURCE)
                if self.answers.get(debit) == StepOutcome.DEBITED:
                    self._move(op, saga.source, saga.amount)
                    return StepOutcome.REFUNDED
                if debit not in self.answers:
                    self.cancelled.add(debit)
                return StepOutcome.DEBIT_CANCELLED
            case SagaStep.CREDIT_DESTINATION:
                if op in self.cancelled or saga.destination in self.frozen:
                    return StepOutcome.DESTINATION_UNAVAILABLE
                self._move(op, saga.destination, saga.amount)
                return StepOutcome.CREDITED
            case SagaStep.CANCEL_CREDIT:
                credit = operation_id(saga.saga_id, SagaStep.CREDIT_DESTINATION)
                if self.answers.get(credit) == StepOutcome.CREDITED:
                    return StepOutcome.CREDIT_ALREADY_APPLIED
                if credit not in self.answers:
                    self.cancelled.add(credit)
                return StepOutcome.CREDIT_CANCELLED
        raise AssertionError(f"the wallet does not handle {command.step}")

    def _move(self, op: str, wallet: str, delta: int) -> None:
        self.balances[wallet] += delta
        assert self.balances[wallet] >= 0, f"{wallet} went negative"
        self.effects.append((op, wallet, delta))


class LedgerModel:
    def __init__(self, opening: dict[str, int], rejects: frozenset[str]) -> None:
        self.rejects = rejects
        self.answers: dict[str, StepOutcome] = {}
        self.cancelled: set[str] = set()
        self.journal: list[tuple[str, dict[str, int]]] = [
            ("opening", {FUNDING_ACCOUNT: -sum(opening.values()), **opening})
        ]

    def handle(self, command: Command) -> StepOutcome:
        op = command.operation_id
        if op not in self.answers:
            self.answers[op] = self._apply(command)
        return self.answers[op]

    def balance(self, account: str) -> int:
        return sum(legs.get(account, 0) for _op, legs in self.journal)

    def _apply(self, command: Command) -> StepOutcome:
        saga, op = command.saga, command.operation_id
        match command.step:
            case SagaStep.POST_TRANSFER | SagaStep.POST_TOP_UP:
                if op in self.cancelled or saga.saga_id in self.rejects:
                    return StepOutcome.LEDGER_REJECTED
                payer = saga.source if command.step == SagaStep.POST_TRANSFER else FUNDING_ACCOUNT
                assert payer is not None
                self._post(op, {payer: -saga.amount, saga.destination: saga.amount})
                return StepOutcome.POSTED
            case SagaStep.REVERSE_POSTING:
                reverses = (
                    SagaStep.POST_TOP_UP if saga.kind == SagaKind.TOP_UP else SagaStep.POST_TRANSFER
                )
                posting = operation_id(saga.saga_id, reverses)
                if self.answers.get(posting) == StepOutcome.POSTED:
                    legs = next(legs for entry, legs in self.journal if entry == posting)
                    self._post(op, {account: -amount for account, amount in legs.items()})
                    return StepOutcome.REVERSED
                if posting not in self.answers:
                    self.cancelled.add(posting)
                return StepOutcome.POSTING_CANCELLED
        raise AssertionError(f"the ledger does not handle {command.step}")

    def _post(self, op: str, legs: dict[str, int]) -> None:
        assert sum(legs.values()) == 0, f"unbalanced journal entry {op}"
        self.journal.append((op, legs))


# ---------------------------------------------------------------- orchestrator and network


@dataclass
class SagaRun:
    spec: SagaSpec
    state: SagaState
    failure_code: FailureCode | None = None
    resends: int = 0
    decisions: list[tuple[SagaState, SagaEvent]] = field(default_factory=list)


class World:
    """The orchestrator's rules (stale replies dropped, sweeper re-sends) over a lossy network."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.wallet = WalletModel(scenario.balances, scenario.frozen)
        self.ledger = LedgerModel(scenario.balances, scenario.ledger_rejects)
        self.runs = {
            spec.saga_id: SagaRun(spec, initial_state(spec.kind)) for spec in scenario.sagas
        }
        self.in_flight: list[Message] = []
        self.sent: list[Command] = []
        for run in self.runs.values():
            for step in initial_commands(run.spec.kind):
                self._send(Command(run.spec, step))

    # -- what the network and the sweeper can do

    def deliver(self, index: int) -> None:
        message = self.in_flight.pop(index % len(self.in_flight))
        if isinstance(message, Command):
            participant = self.wallet if message.step in WALLET_STEPS else self.ledger
            outcome = participant.handle(message)
            self.in_flight.append(Reply(message.saga.saga_id, message.step, outcome))
        else:
            self._on_reply(message)

    def duplicate(self, index: int) -> None:
        self.in_flight.append(self.in_flight[index % len(self.in_flight)])

    def drop(self, index: int) -> None:
        del self.in_flight[index % len(self.in_flight)]

    def sweep(self, run: SagaRun) -> None:
        """The saga is past its step deadline."""
        if is_terminal(run.state):
            return
        step = awaited_step(run.state)
        assert step is not None
        if is_compensating(run.state) or run.resends < GIVE_UP_AFTER:
            run.resends += 1
            self._send(Command(run.spec, step))
        else:
            self._decide(run, SagaEvent.STEP_TIMED_OUT)

    def act(self, action: str, index: int) -> None:
        if action == "tick":
            for run in self.runs.values():
                self.sweep(run)
        elif action == "sweep":
            self.sweep(list(self.runs.values())[index % len(self.runs)])
        elif not self.in_flight:
            return
        elif action == "deliver":
            self.deliver(index)
        elif action == "duplicate":
            self.duplicate(index)
        else:
            assert action == "drop", action
            self.drop(index)

    def settle(self) -> None:
        """Deliver everything, then let the sweeper run until every saga rests."""
        for _ in range(10_000):
            if self.in_flight:
                self.deliver(0)
            elif unfinished := [run for run in self.runs.values() if not is_terminal(run.state)]:
                for run in unfinished:
                    self.sweep(run)
            else:
                return
        raise AssertionError("the sagas never settled")

    def replay_every_command(self) -> None:
        """Every command ever sent arrives once more, late."""
        self.in_flight.extend(self.sent)
        self.settle()

    # -- the orchestrator

    def _on_reply(self, reply: Reply) -> None:
        run = self.runs[reply.saga_id]
        if reply.step != awaited_step(run.state):
            return  # stale: a duplicate, or the answer to a step already given up on
        self._decide(run, event_for(reply.outcome))

    def _decide(self, run: SagaRun, event: SagaEvent) -> None:
        transition = decide(run.spec.kind, run.state, event)
        run.decisions.append((run.state, event))
        run.state = transition.next_state
        run.failure_code = carried_failure_code(run.failure_code, transition)
        run.resends = 0
        for step in transition.commands:
            self._send(Command(run.spec, step))

    def _send(self, command: Command) -> None:
        self.sent.append(command)
        self.in_flight.append(command)

    # -- what moved

    def wallet_moves(self, saga_id: str) -> dict[str, int]:
        moved: Counter[str] = Counter()
        for op, wallet, delta in self.wallet.effects:
            if op.startswith(f"{saga_id}:"):
                moved[wallet] += delta
        return {wallet: delta for wallet, delta in moved.items() if delta}

    def ledger_moves(self, saga_id: str) -> dict[str, int]:
        moved: Counter[str] = Counter()
        for op, legs in self.ledger.journal:
            if op.startswith(f"{saga_id}:"):
                moved.update(legs)
        return {account: delta for account, delta in moved.items() if delta}

    def touched(self, saga_id: str) -> bool:
        prefix = f"{saga_id}:"
        return any(op.startswith(prefix) for op, _w, _d in self.wallet.effects) or any(
            op.startswith(prefix) for op, _legs in self.ledger.journal
        )


# ---------------------------------------------------------------- the properties


def assert_money_is_safe(world: World) -> None:
    scenario = world.scenario
    runs = world.runs.values()

    assert all(is_terminal(run.state) for run in runs)

    applied = Counter(op for op, _w, _d in world.wallet.effects)
    applied.update(op for op, _legs in world.ledger.journal[1:])
    assert all(count == 1 for count in applied.values()), applied

    topped_up = sum(
        run.spec.amount
        for run in runs
        if run.spec.kind == SagaKind.TOP_UP and run.state == SagaState.COMPLETED
    )
    assert sum(world.wallet.balances.values()) == sum(scenario.balances.values()) + topped_up

    for wallet, balance in world.wallet.balances.items():
        assert balance >= 0
        assert world.ledger.balance(wallet) == balance, wallet
    assert all(sum(legs.values()) == 0 for _op, legs in world.ledger.journal)

    for run in runs:
        spec = run.spec
        saga_id = spec.saga_id
        if run.state == SagaState.COMPLETED:
            payer = spec.source if spec.kind != SagaKind.TOP_UP else FUNDING_ACCOUNT
            assert payer is not None
            wallet_expected = {spec.destination: spec.amount}
            if spec.source is not None:
                wallet_expected[spec.source] = -spec.amount
            assert world.wallet_moves(saga_id) == wallet_expected
            assert world.ledger_moves(saga_id) == {
                payer: -spec.amount,
                spec.destination: spec.amount,
            }
            assert run.failure_code is None
        elif run.state == SagaState.FAILED:
            assert not world.touched(saga_id), f"{saga_id} failed but moved money"
            assert run.failure_code is not None
        else:
            assert run.state == SagaState.COMPENSATED
            assert world.touched(saga_id)
            assert world.wallet_moves(saga_id) == {}
            assert world.ledger_moves(saga_id) == {}
            assert run.failure_code is not None


WALLETS = ("wallet-a", "wallet-b", "wallet-c")
# A sweeper "tick" finds every saga past its deadline; "sweep" finds one saga late.
ACTIONS = ("deliver", "deliver", "deliver", "duplicate", "drop", "sweep", "tick")


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    balances = {wallet: draw(st.integers(0, 100)) for wallet in WALLETS}
    frozen = draw(st.frozensets(st.sampled_from(WALLETS), max_size=1))
    sagas = []
    for number in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from((SagaKind.TRANSFER, SagaKind.TRANSFER, SagaKind.TOP_UP)))
        source, destination = draw(st.permutations(WALLETS))[:2]
        sagas.append(
            SagaSpec(
                saga_id=f"saga-{number}",
                kind=kind,
                source=source if kind != SagaKind.TOP_UP else None,
                destination=destination,
                amount=draw(st.integers(1, 80)),
            )
        )
    rejects = draw(st.frozensets(st.sampled_from([spec.saga_id for spec in sagas])))
    return Scenario(balances, frozen, tuple(sagas), rejects)


chaos = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 63)), min_size=20, max_size=200)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), actions=chaos)
def test_sagas_keep_money_safe_under_duplicated_reordered_and_lost_messages(
    scenario: Scenario, actions: list[tuple[str, int]]
) -> None:
    world = World(scenario)
    for action, index in actions:
        world.act(action, index)

    world.settle()
    assert_money_is_safe(world)

    # Late copies of every command change nothing: repeats replay, cancelled steps are refused.
    states = {saga_id: run.state for saga_id, run in world.runs.items()}
    balances = dict(world.wallet.balances)
    world.replay_every_command()
    assert {saga_id: run.state for saga_id, run in world.runs.items()} == states
    assert world.wallet.balances == balances
    assert_money_is_safe(world)


# ---------------------------------------------------------------- stories the simulation tells


def _one_transfer(frozen: frozenset[str] = frozenset()) -> World:
    spec = SagaSpec("saga-0", SagaKind.TRANSFER, "wallet-a", "wallet-b", 30)
    scenario = Scenario(
        balances={"wallet-a": 50, "wallet-b": 0},
        frozen=frozen,
        sagas=(spec,),
        ledger_rejects=frozenset(),
    )
    return World(scenario)


def _lose_all_but(world: World, step: SagaStep) -> None:
    world.in_flight = [m for m in world.in_flight if isinstance(m, Command) and m.step == step]


def _give_up_on_the_awaited_step(world: World) -> None:
    run = world.runs["saga-0"]
    for _ in range(GIVE_UP_AFTER + 1):
        world.sweep(run)


def test_refund_before_debit_refuses_the_late_debit() -> None:
    world = _one_transfer()
    debit = world.in_flight.pop()
    _give_up_on_the_awaited_step(world)
    _lose_all_but(world, SagaStep.REFUND_SOURCE)

    world.settle()
    world.in_flight.append(debit)
    world.settle()

    assert world.runs["saga-0"].state == SagaState.FAILED
    assert world.wallet.answers["saga-0:debit_source"] == StepOutcome.SOURCE_UNAVAILABLE
    assert world.wallet.balances == {"wallet-a": 50, "wallet-b": 0}
    assert_money_is_safe(world)


def test_a_debit_that_landed_before_its_timeout_is_refunded() -> None:
    world = _one_transfer()
    world.deliver(0)  # debited; the reply is lost
    world.in_flight.clear()
    _give_up_on_the_awaited_step(world)
    _lose_all_but(world, SagaStep.REFUND_SOURCE)

    world.settle()

    assert world.runs["saga-0"].state == SagaState.COMPENSATED
    assert world.runs["saga-0"].failure_code == FailureCode.STEP_TIMEOUT
    assert world.wallet.balances == {"wallet-a": 50, "wallet-b": 0}
    assert_money_is_safe(world)


def test_a_credit_that_landed_after_its_timeout_completes_the_transfer() -> None:
    world = _one_transfer()
    for _ in range(4):  # debit, its reply, posting, its reply
        world.deliver(0)
    world.deliver(0)  # credited; the reply is lost
    world.in_flight.clear()
    _give_up_on_the_awaited_step(world)
    _lose_all_but(world, SagaStep.CANCEL_CREDIT)

    world.settle()

    assert world.runs["saga-0"].state == SagaState.COMPLETED
    assert world.runs["saga-0"].failure_code is None
    assert world.wallet.balances == {"wallet-a": 20, "wallet-b": 30}
    assert_money_is_safe(world)


def test_a_frozen_destination_reverses_the_posting_and_refunds_the_sender() -> None:
    world = _one_transfer(frozen=frozenset({"wallet-b"}))

    world.settle()

    run = world.runs["saga-0"]
    assert run.state == SagaState.COMPENSATED
    assert run.failure_code == FailureCode.DESTINATION_UNAVAILABLE
    assert [state for state, _event in run.decisions][-2:] == [
        SagaState.REVERSING_POSTING,
        SagaState.REFUNDING_SOURCE,
    ]
    assert_money_is_safe(world)


def test_the_simulation_reaches_every_transition_of_both_tables() -> None:
    # Guards the property above against a simulation too tame to reach the compensations.
    rng = random.Random(20240601)
    reached: set[tuple[SagaKind, SagaState, SagaEvent]] = set()
    for _ in range(400):
        balances = {wallet: rng.randint(0, 100) for wallet in WALLETS}
        sagas = []
        for number in range(rng.randint(1, 4)):
            kind = rng.choice((SagaKind.TRANSFER, SagaKind.TOP_UP))
            source, destination = rng.sample(WALLETS, 2)
            sagas.append(
                SagaSpec(
                    f"saga-{number}",
                    kind,
                    source if kind == SagaKind.TRANSFER else None,
                    destination,
                    rng.randint(1, 80),
                )
            )
        scenario = Scenario(
            balances,
            frozenset(rng.sample(WALLETS, rng.randint(0, 1))),
            tuple(sagas),
            frozenset(spec.saga_id for spec in sagas if rng.random() < 0.2),
        )
        world = World(scenario)
        for _ in range(rng.randint(0, 120)):
            world.act(rng.choice(ACTIONS), rng.randint(0, 63))
        world.settle()
        assert_money_is_safe(world)
        for run in world.runs.values():
            reached.update((run.spec.kind, state, event) for state, event in run.decisions)

    for kind in (SagaKind.TRANSFER, SagaKind.TOP_UP):
        missing = {pair for pair in transition_table(kind) if (kind, *pair) not in reached}
        assert not missing, f"{kind} rows never reached: {sorted(missing)}"


@pytest.mark.parametrize("kind", [SagaKind.TRANSFER, SagaKind.TOP_UP])
def test_a_saga_with_nothing_going_wrong_completes(kind: SagaKind) -> None:
    spec = SagaSpec(
        "saga-0", kind, "wallet-a" if kind == SagaKind.TRANSFER else None, "wallet-b", 10
    )
    world = World(Scenario({"wallet-a": 10, "wallet-b": 0}, frozenset(), (spec,), frozenset()))

    world.settle()

    assert world.runs["saga-0"].state == SagaState.COMPLETED
    assert world.wallet.balances["wallet-b"] == 10
    assert_money_is_safe(world)
