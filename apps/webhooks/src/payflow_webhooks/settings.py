"""Settings of the webhooks service and its worker (`PAYFLOW_*` and `PAYFLOW_WEBHOOK_*` variables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from payflow_settings import BusSettings, ServiceSettings
from payflow_webhooks.domain.retry_policy import RetryPolicy

DEFAULT_RETRY_SCHEDULE = "5,300,1800,7200,18000,36000,50400,72000,86400"


class WebhooksWorkerSettings(ServiceSettings):
    """Webhook delivery settings, shared by the service and its worker. The worker runs on these
    alone: it is not on the saga bus and holds no bus key."""

    service_name: str = "webhooks"

    webhook_timeout_s: float = Field(default=15.0, gt=0)
    """A receiver must answer 2xx within this many seconds for an attempt to succeed."""
    webhook_retry_schedule: str = DEFAULT_RETRY_SCHEDULE
    """Seconds to wait after each failed attempt; its length + 1 is the number of attempts."""
    webhook_retry_jitter: float = Field(default=0.1, ge=0, le=1)
    """Each wait is stretched by up to this fraction, so retries of many deliveries spread out."""
    webhook_allow_private_urls: bool | None = None
    """None means: allowed outside production, refused in production."""
    webhook_disable_after_s: float = Field(default=5 * 24 * 3600, gt=0)
    """An endpoint whose deliveries keep failing for this long is disabled."""
    webhook_secret_overlap_s: float = Field(default=24 * 3600, ge=0)
    """After a rotation the old secret keeps signing (beside the new one) for this long."""
    webhook_job_timeout_s: float | None = Field(default=None, gt=0)
    """ARQ job timeout; by default the HTTP timeout plus 5 s. A killed worker's job is picked up
    again by ARQ once this plus 10 s has passed."""
    webhook_worker_max_jobs: int = Field(default=20, ge=1)
    webhook_max_in_flight_per_endpoint: int = Field(default=4, ge=1)
    """Sends to one endpoint at once in one worker: a slow endpoint holds at most this many of
    the worker's slots, the others go on serving other endpoints."""
    webhook_max_in_flight_per_owner: int = Field(default=10, ge=1)
    """Sends to one owner's endpoints together at once in one worker."""
    webhook_worker_poll_delay_s: float = Field(default=0.05, gt=0)
    """How often an idle worker looks for due jobs: the pickup latency of a delivery. One
    ZRANGEBYSCORE per look, so 20/s when idle costs Redis next to nothing."""
    webhook_sweeper_interval_s: float = Field(default=15.0, gt=0)
    webhook_sweeper_grace_s: float = Field(default=60.0, ge=0)
    """A pending delivery overdue by more than this, with no ARQ job, is re-enqueued."""

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule_parses(cls, value: str) -> str:
        RetryPolicy.from_schedule(value)
        return value

    @property
    def database_name(self) -> str:
        # The service and its worker share one database whatever PAYFLOW_SERVICE_NAME says.
        return f"{self.database_prefix}_webhooks"

    @property
    def private_urls_allowed(self) -> bool:
        if self.webhook_allow_private_urls is None:
            return not self.is_production
        return self.webhook_allow_private_urls

    @property
    def job_timeout(self) -> timedelta:
        seconds = self.webhook_job_timeout_s or self.webhook_timeout_s + 5.0
        return timedelta(seconds=seconds)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy.from_schedule(
            self.webhook_retry_schedule, jitter=self.webhook_retry_jitter
        )

    def job_lifetime(self) -> timedelta:
        """How long an ARQ job key must live: the whole schedule, every attempt, and a day."""
        policy = self.retry_policy()
        return policy.span() + self.job_timeout * policy.max_attempts + timedelta(days=1)


class WebhooksSettings(BusSettings, WebhooksWorkerSettings):
    """The webhooks service: it consumes transfer events from the bus, so it holds the bus keys."""

    max_webhook_endpoints_per_user: int = Field(default=10, ge=1)
    """Endpoints one user may hold; one more is refused with 409 `quota_exceeded` (exactly,
    however many are created at once)."""
    max_delivery_retries_per_hour: int = Field(default=60, ge=1)
    """Manual retries (`POST /v1/webhook-deliveries/{id}/retry`) one user may ask for in one
    clock hour; one more is refused with 429 `quota_exceeded` and `Retry-After`."""
