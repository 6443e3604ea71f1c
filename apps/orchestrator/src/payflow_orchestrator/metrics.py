"""Business metrics of the orchestrator (names are what the dashboards and alerts use)."""

from prometheus_client import Counter, Gauge, Histogram

TRANSFERS_STARTED = Counter("payflow_transfers_started_total", "Sagas started", ["kind"])
TRANSFERS_TERMINAL = Counter(
    "payflow_transfers_total",
    "Sagas that reached a terminal status",
    ["kind", "status", "failure_code"],
)
STEP_DURATION = Histogram(
    "payflow_saga_step_duration_seconds",
    "From sending a step's command to applying its reply",
    ["step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TRANSITIONS = Counter(
    "payflow_saga_transitions_total", "Saga state transitions", ["kind", "from_state", "to_state"]
)
COMPENSATIONS = Counter(
    "payflow_saga_compensations_total",
    "Compensating commands sent (first sends and re-sends)",
    ["step"],
)
RESENDS = Counter(
    "payflow_saga_step_resends_total", "Step commands re-sent by the sweeper", ["step"]
)
IN_FLIGHT = Gauge("payflow_sagas_in_flight", "Sagas not yet terminal")
PAST_DEADLINE = Gauge("payflow_sagas_past_deadline", "Sagas whose step deadline has passed")
STALE_REPLIES = Counter(
    "payflow_saga_stale_replies_total", "Replies ignored: duplicate or for a step already settled"
)
