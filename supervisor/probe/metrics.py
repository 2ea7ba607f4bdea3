"""Prometheus metrics, built at scrape time from the latest snapshot.

No global registry and no metric objects that live between scrapes: the
snapshot is the state, and each scrape turns it into metric families. Request
counters are the sum over the live workers' heartbeats and the supervisor's
``retired`` totals, so a replaced worker never makes them go backwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from supervisor import counters, health
from supervisor.probe.state import ProbeState
from supervisor.protocol import BrokerLink, Outcome, Snapshot, WorkerReport, WorkerState

WORKER_LABELS = ["worker", "pid"]


class SnapshotCollector(Collector):
    def __init__(self, state: ProbeState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        if self.state.snapshot is None:
            return iter(())
        return families(self.state.snapshot, self.state.age())


def registry(state: ProbeState) -> CollectorRegistry:
    """A registry of its own holding only the snapshot collector."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SnapshotCollector(state))
    return reg


def families(snapshot: Snapshot, age: float) -> Iterator[Metric]:
    """Every metric family for one snapshot received ``age`` seconds ago."""
    workers = snapshot.workers
    totals = counters.summed(snapshot.retired, *(w.heartbeat.counters for w in workers))
    yield requests(totals)
    yield latency(totals.histogram)
    yield restarts(snapshot.restarts)
    yield worker_states(workers)
    yield from per_worker(workers, age)
    yield from checks(workers)
    yield routes(workers)
    yield from websockets(totals)
    if totals.messages is not None or any(w.heartbeat.consumer is not None for w in workers):
        yield from messages(totals.messages or counters.MessageTotals())
        yield from consumers(workers, age)
    yield from supervisor_gauges(snapshot, age)
    yield info(snapshot.versions)


def requests(totals: counters.Totals) -> Metric:
    family = CounterMetricFamily(
        "hurricane_requests", "Responses sent, by method and status class.", labels=["method", "status"]
    )
    for method, classes in sorted(totals.responses.items()):
        for klass, count in sorted(classes.items()):
            family.add_metric([method, klass], count)
    return family


def latency(histogram: counters.Histogram) -> Metric:
    return histogram_family(
        "hurricane_request_duration_seconds",
        "Time from request headers to the response's end.",
        histogram,
        counters.LATENCY_BUCKETS,
    )


def histogram_family(
    name: str, documentation: str, histogram: counters.Histogram, upper_bounds: Sequence[float]
) -> Metric:
    family = HistogramMetricFamily(name, documentation)
    bounds = [repr(b) for b in upper_bounds] + ["+Inf"]
    family.add_metric([], list(zip(bounds, histogram.buckets, strict=True)), histogram.sum_s)
    return family


def restarts(by_reason: dict[str, int]) -> Metric:
    family = CounterMetricFamily(
        "hurricane_worker_restarts", "Worker restarts, by reason.", labels=["reason"]
    )
    for reason, count in sorted(by_reason.items()):
        family.add_metric([reason], count)
    return family


def worker_states(workers: Sequence[WorkerReport]) -> Metric:
    family = GaugeMetricFamily("hurricane_workers", "Worker processes, by state.", labels=["state"])
    states = Counter(w.state for w in workers)
    for state in WorkerState:
        family.add_metric([state], states[state])
    return family


# name, help, how to read the value from a worker record given the snapshot's age
_WORKER_GAUGES: tuple[tuple[str, str, Callable[[WorkerReport, float], float | None]], ...] = (
    ("hurricane_requests_in_flight", "Requests being served.", lambda w, age: w.heartbeat.in_flight),
    ("hurricane_requests_queued", "Requests waiting for a view thread.", lambda w, age: w.heartbeat.queued),
    ("hurricane_connections", "Open client connections.", lambda w, age: w.heartbeat.connections),
    ("hurricane_websockets_open", "Open WebSockets.", lambda w, age: w.heartbeat.websockets),
    (
        "hurricane_worker_heartbeat_age_seconds",
        "Seconds since the worker's last heartbeat.",
        health.hb_age,
    ),
    (
        "hurricane_worker_loop_lag_seconds",
        "How late the worker's event loop ran its last heartbeat.",
        lambda w, age: w.heartbeat.loop_lag_ms / 1000,
    ),
    ("hurricane_worker_rss_bytes", "Resident memory of the worker.", lambda w, age: w.heartbeat.rss_bytes),
)


def per_worker(workers: Sequence[WorkerReport], age: float) -> Iterator[Metric]:
    for name, text, read in _WORKER_GAUGES:
        family = GaugeMetricFamily(name, text, labels=WORKER_LABELS)
        for worker in workers:
            value = read(worker, age)
            if value is not None:
                family.add_metric(_labels(worker), float(value))
        yield family


def checks(workers: Sequence[WorkerReport]) -> Iterator[Metric]:
    ok = GaugeMetricFamily(
        "hurricane_check_ok",
        "1 if the worker's last run of the checks with this tag passed.",
        labels=[*WORKER_LABELS, "tag"],
    )
    took = GaugeMetricFamily(
        "hurricane_check_duration_seconds",
        "How long the last run of the checks took.",
        labels=[*WORKER_LABELS, "tag"],
    )
    database = GaugeMetricFamily(
        "hurricane_database_ok",
        "1 if the worker's last database round-trip succeeded.",
        labels=[*WORKER_LABELS, "alias"],
    )
    for worker in workers:
        heartbeat = worker.heartbeat
        for tag, result in sorted(heartbeat.checks.items()):
            ok.add_metric([*_labels(worker), tag], 1.0 if result.ok else 0.0)
            if result.took_ms is not None:
                took.add_metric([*_labels(worker), tag], result.took_ms / 1000)
        for alias, db in sorted(heartbeat.db.items()):
            database.add_metric([*_labels(worker), alias], 1.0 if db.ok else 0.0)
    yield from (ok, took, database)


def websockets(totals: counters.Totals) -> Iterator[Metric]:
    for name, text, label, counts in (
        (
            "hurricane_websocket_messages",
            "WebSocket messages, by direction.",
            "direction",
            totals.websocket_messages,
        ),
        ("hurricane_websocket_closes", "WebSockets closed, by close code.", "code", totals.websocket_closes),
        (
            "hurricane_websocket_upgrades_refused",
            "WebSocket upgrades refused, by reason (version, capacity, draining, denied, handshake, error, timeout).",
            "reason",
            totals.websocket_refused,
        ),
    ):
        family = CounterMetricFamily(name, text, labels=[label])
        for key, count in sorted(counts.items()):
            family.add_metric([key], count)
        yield family


def routes(workers: Sequence[WorkerReport]) -> Metric:
    family = GaugeMetricFamily(
        "hurricane_routes",
        "Routes the worker moved off its shared view threads: inline, or one request at a time.",
        labels=[*WORKER_LABELS, "place"],
    )
    for worker in workers:
        for place, count in sorted(worker.heartbeat.routes.items()):
            family.add_metric([*_labels(worker), place], float(count))
    return family


def info(found: dict[str, str]) -> Metric:
    family = GaugeMetricFamily(
        "hurricane_info",
        "The running versions of Hurricane, Django and Python.",
        labels=["version", "django", "python"],
    )
    labels = [found.get("hurricane", "?"), found.get("django", "?"), found.get("python", "?")]
    family.add_metric(labels, 1.0)
    return family


def messages(totals: counters.MessageTotals) -> Iterator[Metric]:
    """Consumer workers' counts, the live ones' and the retired ones' together."""
    family = CounterMetricFamily("hurricane_messages", "Messages received, by outcome.", labels=["outcome"])
    for outcome in Outcome:
        family.add_metric([outcome], totals.outcomes.get(outcome, 0))
    yield family
    yield histogram_family(
        "hurricane_message_duration_seconds",
        "How long message handlers ran, whatever their outcome.",
        totals.duration,
        counters.HANDLER_BUCKETS,
    )
    yield CounterMetricFamily(
        "hurricane_broker_reconnects",
        "Connections to the broker made again after one was lost.",
        value=totals.reconnects,
    )


def consumers(workers: Sequence[WorkerReport], age: float) -> Iterator[Metric]:
    """Each consumer worker's broker connection and the messages it holds."""
    gauges = {
        "in_flight": GaugeMetricFamily(
            "hurricane_messages_in_flight", "Messages whose handler is running.", labels=WORKER_LABELS
        ),
        "prefetched": GaugeMetricFamily(
            "hurricane_messages_prefetched",
            "Messages delivered ahead, waiting for a free handler.",
            labels=WORKER_LABELS,
        ),
        "oldest": GaugeMetricFamily(
            "hurricane_message_oldest_seconds",
            "How long the longest-running handler has run.",
            labels=WORKER_LABELS,
        ),
        "last": GaugeMetricFamily(
            "hurricane_message_last_seconds", "Seconds since the last message arrived.", labels=WORKER_LABELS
        ),
        "registered": GaugeMetricFamily(
            "hurricane_consumer_registered",
            "1 if the broker has confirmed the worker's consumer.",
            labels=WORKER_LABELS,
        ),
    }
    link = GaugeMetricFamily(
        "hurricane_broker_connection",
        "1 for the state the worker's broker connection is in.",
        labels=[*WORKER_LABELS, "state"],
    )
    for worker in workers:
        consumer = worker.heartbeat.consumer
        if consumer is None:
            continue
        labels = _labels(worker)
        gauges["in_flight"].add_metric(labels, consumer.in_flight)
        gauges["prefetched"].add_metric(labels, consumer.prefetched)
        gauges["oldest"].add_metric(labels, health.handler_running_s(worker, age))
        if consumer.since_message_s is not None:
            gauges["last"].add_metric(labels, consumer.since_message_s + health.hb_age(worker, age))
        gauges["registered"].add_metric(labels, 1.0 if consumer.registered else 0.0)
        for state in BrokerLink:
            link.add_metric([*labels, state], 1.0 if consumer.link is state else 0.0)
    yield from gauges.values()
    yield link


def supervisor_gauges(snapshot: Snapshot, age: float) -> Iterator[Metric]:
    if snapshot.startup_s is not None:
        yield GaugeMetricFamily(
            "hurricane_startup_duration_seconds",
            "From the supervisor's start until the startup probe first passed.",
            value=snapshot.startup_s,
        )
    yield GaugeMetricFamily(
        "hurricane_snapshot_age_seconds", "Age of the supervisor's latest health snapshot.", value=age
    )


def _labels(worker: WorkerReport) -> list[str]:
    return [str(worker.worker), str(worker.pid)]
