"""Settings of the orchestrator (`PAYFLOW_*` variables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from payflow_orchestrator.domain import fees as domain_fees
from payflow_orchestrator.domain.transfer import TimingPolicy
from payflow_settings import BusSettings


class FeeTerms(BaseModel):
    """One currency's fee terms as `PAYFLOW_FEE_PLAN` gives them, validated here (strict
    integers in range, no other key); `fees()` hands the domain its `domain.fees.FeeTerms`.
    (Named as the domain's: a bad value is refused with the same message as ever.)"""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    basis_points: int = Field(default=0, ge=0, le=domain_fees.BASIS_POINTS_PER_UNIT)
    fixed: int = Field(default=0, ge=0)
    """Minor units of the plan's currency."""

    def terms(self) -> domain_fees.FeeTerms:
        return domain_fees.FeeTerms(basis_points=self.basis_points, fixed=self.fixed)


class OrchestratorSettings(BusSettings):
    service_name: str = "orchestrator"
    step_timeout_s: float = Field(default=10.0, gt=0)
    """How long a step may go unanswered before the sweeper re-sends it."""
    forward_step_max_sends: int = Field(default=4, ge=1)
    """Sends of a forward step (first + re-sends) before it is abandoned with step_timeout."""
    compensation_backoff_max_s: float = Field(default=60.0, gt=0)
    sweeper_interval_s: float = Field(default=1.0, gt=0)
    stuck_grace_s: float = Field(default=30.0, ge=0)
    """A saga is reported stuck when its step deadline passed longer ago than this."""
    max_fault_rules_per_user: int = Field(default=20, ge=1)
    """Sandbox fault rules one user may hold; one more is refused with 409 `quota_exceeded`
    (exactly, however many are added at once)."""

    reservation_grace_s: float = Field(default=10.0, gt=0)
    """How long a reservation (a refund's share, a link held for its payer) may wait for the
    request that made it to start its saga before the keeper starts the saga itself; also how
    often the keeper looks again at reservations whose saga is still running."""

    fee_plan: dict[str, FeeTerms] = Field(
        default_factory=lambda: {
            "USD": FeeTerms(basis_points=290, fixed=30),
            "EUR": FeeTerms(basis_points=290, fixed=25),
            "GBP": FeeTerms(basis_points=290, fixed=20),
        }
    )
    """The platform's fee on payment-link payments, per currency: basis points of the amount
    (rounded half up) plus fixed minor units. JSON, e.g.
    `PAYFLOW_FEE_PLAN='{"USD": {"basis_points": 290, "fixed": 30}}'`; a currency left out pays
    no fee (`{}`: no fees at all)."""

    def fees(self) -> domain_fees.FeePlan:
        return domain_fees.FeePlan(
            terms={currency: t.terms() for currency, t in self.fee_plan.items()}
        )

    def timing_policy(self) -> TimingPolicy:
        return TimingPolicy(
            step_timeout=timedelta(seconds=self.step_timeout_s),
            forward_max_sends=self.forward_step_max_sends,
            compensation_backoff_base=timedelta(seconds=min(1.0, self.step_timeout_s)),
            compensation_backoff_max=timedelta(seconds=self.compensation_backoff_max_s),
        )
