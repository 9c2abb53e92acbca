"""Prometheus metrics of the relayer (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

EVENTS_SEEN = Counter("dari_events_seen_total", "Chain events observed", ["chain", "kind"], registry=REGISTRY)
OPERATIONS = Gauge("dari_operations", "Operations by kind and state", ["kind", "state"], registry=REGISTRY)
TRANSITIONS = Counter("dari_transitions_total", "State transitions", ["kind", "event"], registry=REGISTRY)
DELIVERY_LATENCY = Histogram(
    "dari_delivery_seconds", "From the operation's observation to its confirmation", ["kind"], registry=REGISTRY,
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)  # fmt: skip
STAGE_SECONDS = Histogram(
    "dari_stage_seconds", "Time one pass spends in a pipeline stage", ["stage"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
RPC_ERRORS = Counter("dari_rpc_errors_total", "Failed stage passes of a chain", ["chain"], registry=REGISTRY)
SUBMISSIONS = Counter("dari_submissions_total", "Transactions sent", ["chain", "purpose"], registry=REGISTRY)
LEADER = Gauge("dari_leader", "1 while this relayer holds the lease", registry=REGISTRY)
LANE_STOPPED = Gauge("dari_lane_stopped", "1 once a lane stopped on a fatal failure", ["lane"], registry=REGISTRY)
STALE = Gauge("dari_operations_over_sla", "Non-final operations older than the SLA", registry=REGISTRY)
RECONCILIATION = Gauge("dari_reconciliation_difference", "Locked - supply - in flight", ["security"], registry=REGISTRY)
