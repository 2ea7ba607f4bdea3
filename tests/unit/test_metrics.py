"""The /metrics collector, built from crafted snapshots: no processes."""

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from supervisor import counters
from supervisor.options import OptionError, resolve
from supervisor.probe import metrics
from supervisor.probe.state import ProbeState
from supervisor.protocol import Counters, Heartbeat, Latency, Snapshot
from supervisor.wire import from_wire, to_wire

OPTIONS = resolve({})


def histogram(*seconds):
    h = counters.Histogram()
    for s in seconds:
        h.observe(s)
    return to_wire(h.latency())


def worker(index, pid, responses, latency, **heartbeat):
    return {
        "worker": index,
        "pid": pid,
        "state": "ready",
        "hb_age_s": 0.25,
        "heartbeat": {
            "in_flight": 2,
            "queued": 1,
            "loop_lag_ms": 12.5,
            "rss_bytes": 50_000_000,
            "checks": {
                "liveness": {"ok": True, "errors": [], "took_ms": 3.0},
                "readiness": {
                    "ok": False,
                    "errors": [{"id": "app.E001", "level": "ERROR", "msg": "no"}],
                    "took_ms": 1.0,
                },
            },
            "db": {"default": {"ok": True}},
            "routes": {"inline": 3, "serial": 1},
            "counters": {"responses": responses, "latency": latency},
            **heartbeat,
        },
    }


SNAPSHOT = {
    "phase": "running",
    "startup_done": True,
    "startup_s": 1.5,
    "restarts": {"crash": 2, "hang": 1},
    "retired": {"responses": {"GET": {"2xx": 100}}, "latency": histogram(*[0.001] * 100)},
    "workers": [
        worker(0, 11, {"GET": {"2xx": 3, "5xx": 1}}, histogram(0.001, 0.02, 0.3, 40.0)),
        worker(1, 12, {"POST": {"2xx": 2}}, histogram(0.004, 0.005)),
    ],
}


def scrape(snapshot, age=0.5):
    now = [10.0]
    state = ProbeState(OPTIONS, clock=lambda: now[0])
    if snapshot is not None:
        state.update(from_wire(Snapshot, snapshot))
    now[0] += age
    text = generate_latest(metrics.registry(state)).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_requests_sum_live_workers_and_retired_totals():
    samples = scrape(SNAPSHOT)
    assert value(samples, "hurricane_requests_total", method="GET", status="2xx") == 103
    assert value(samples, "hurricane_requests_total", method="GET", status="5xx") == 1
    assert value(samples, "hurricane_requests_total", method="POST", status="2xx") == 2


def test_latency_histogram_is_cumulative_over_fixed_buckets():
    samples = scrape(SNAPSHOT)
    bucket = "hurricane_request_duration_seconds_bucket"
    assert value(samples, bucket, le="0.005") == 100 + 1 + 2  # 0.005 itself falls in le=0.005
    assert value(samples, bucket, le="0.025") == 104
    assert value(samples, bucket, le="0.5") == 105
    assert value(samples, bucket, le="30.0") == 105
    assert value(samples, bucket, le="+Inf") == 106  # 40 s is past the last bound
    assert value(samples, "hurricane_request_duration_seconds_count") == 106
    total = 0.1 + 0.001 + 0.02 + 0.3 + 40.0 + 0.004 + 0.005
    assert value(samples, "hurricane_request_duration_seconds_sum") == pytest.approx(total)


def test_per_worker_gauges_restarts_checks_and_startup():
    samples = scrape(SNAPSHOT, age=0.5)
    w0 = {"worker": "0", "pid": "11"}
    assert value(samples, "hurricane_requests_in_flight", **w0) == 2
    assert value(samples, "hurricane_requests_queued", **w0) == 1
    assert value(samples, "hurricane_worker_heartbeat_age_seconds", **w0) == pytest.approx(0.75)
    assert value(samples, "hurricane_worker_loop_lag_seconds", **w0) == pytest.approx(0.0125)
    assert value(samples, "hurricane_worker_rss_bytes", worker="1", pid="12") == 50_000_000
    assert value(samples, "hurricane_worker_restarts_total", reason="crash") == 2
    assert value(samples, "hurricane_worker_restarts_total", reason="hang") == 1
    assert value(samples, "hurricane_workers", state="ready") == 2
    assert value(samples, "hurricane_check_ok", tag="liveness", **w0) == 1
    assert value(samples, "hurricane_check_ok", tag="readiness", **w0) == 0
    assert value(samples, "hurricane_routes", place="inline", **w0) == 3
    assert value(samples, "hurricane_routes", place="serial", **w0) == 1
    assert value(samples, "hurricane_check_duration_seconds", tag="liveness", **w0) == pytest.approx(0.003)
    assert value(samples, "hurricane_database_ok", alias="default", **w0) == 1
    assert value(samples, "hurricane_startup_duration_seconds") == 1.5
    assert value(samples, "hurricane_snapshot_age_seconds") == pytest.approx(0.5)


def test_nothing_before_the_first_snapshot_and_no_startup_duration_before_startup():
    assert scrape(None) == {}
    samples = scrape({**SNAPSHOT, "startup_s": None})
    assert not any(name == "hurricane_startup_duration_seconds" for name, _ in samples)


def test_a_replaced_worker_does_not_make_totals_go_backwards():
    """What the supervisor does when a worker exits: its last counts join ``retired``."""
    retired = counters.Totals()
    dying = worker(0, 11, {"GET": {"2xx": 7}}, histogram(0.01, 0.02))
    before = scrape({"workers": [dying], "retired": to_wire(retired.counters())})
    retired.add(from_wire(Heartbeat, dying["heartbeat"]).counters)
    fresh = worker(0, 13, {}, histogram())
    after = scrape({"workers": [fresh], "retired": to_wire(retired.counters())})
    for key in ("hurricane_requests_total", "hurricane_request_duration_seconds_count"):
        old = {k: v for k, v in before.items() if k[0] == key}
        assert old and all(after[k] >= v for k, v in old.items())


def test_histogram_of_another_bucket_set_is_ignored():
    totals = counters.summed(Counters(latency=Latency((1, 2, 3), 9.0)))
    assert totals.histogram.buckets == [0] * (len(counters.LATENCY_BUCKETS) + 1)
    assert totals.histogram.sum_s == 0.0


def test_labels_are_bounded():
    assert counters.method_label("BREW") == "OTHER"
    assert counters.method_label("GET") == "GET"
    assert [counters.status_class(s) for s in (101, 204, 302, 404, 503, 0, 999)] == [
        "1xx",
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "other",
        "other",
    ]


def test_a_busy_snapshot_scrapes_every_worker():
    responses = SNAPSHOT["workers"][0]["heartbeat"]["counters"]["responses"]
    workers = [worker(i, 100 + i, responses, histogram(0.1)) for i in range(8)]
    samples = scrape({**SNAPSHOT, "workers": workers})
    assert value(samples, "hurricane_workers", state="ready") == 8
    assert value(samples, "hurricane_requests_total", method="GET", status="2xx") == 100 + 8 * 3


def test_metrics_path_must_not_be_a_probe_path_unless_metrics_are_off():
    with pytest.raises(OptionError, match='option --metrics: "/ready" from the options is also a probe path'):
        resolve({"metrics": "/ready"})
    assert resolve({"metrics": "/ready", "no_metrics": True}).no_metrics
    assert resolve({}, environ={"HURRICANE_METRICS": "/prom"}).metrics == "/prom"


# -- consumer workers ---------------------------------------------------------------------------


def consumer_worker(index, pid, outcomes, reconnects=0, **state):
    duration = counters.Histogram(counters.HANDLER_BUCKETS)
    for seconds in (0.01, 0.2, 90.0):
        duration.observe(seconds)
    messages = {"outcomes": outcomes, "duration": to_wire(duration.latency()), "reconnects": reconnects}
    consumer = {"link": "connected", "registered": True, "in_flight": 2, "prefetched": 5, "oldest_s": 1.5}
    consumer.update(state)
    return {
        "worker": index,
        "pid": pid,
        "state": "ready",
        "hb_age_s": 0.25,
        "heartbeat": {"consumer": consumer, "counters": {"messages": messages}},
    }


def test_consumer_metrics_sum_live_and_retired_workers():
    retired = {"messages": {"outcomes": {"acked": 100, "rejected": 1}, "reconnects": 2}}
    snapshot = {
        "retired": retired,
        "workers": [
            consumer_worker(0, 21, {"acked": 10, "requeued": 1}, reconnects=1, since_message_s=3.0),
            consumer_worker(1, 22, {"acked": 5}, link="disconnected", registered=False, in_flight=0),
        ],
    }
    samples = scrape(snapshot, age=0.5)
    assert value(samples, "hurricane_messages_total", outcome="acked") == 115
    assert value(samples, "hurricane_messages_total", outcome="rejected") == 1
    assert value(samples, "hurricane_messages_total", outcome="returned") == 0
    assert value(samples, "hurricane_broker_reconnects_total") == 3
    assert value(samples, "hurricane_message_duration_seconds_count") == 6  # retired ones kept no histogram
    assert value(samples, "hurricane_message_duration_seconds_bucket", le="60.0") == 4
    assert value(samples, "hurricane_message_duration_seconds_bucket", le="120.0") == 6
    w0, w1 = {"worker": "0", "pid": "21"}, {"worker": "1", "pid": "22"}
    assert value(samples, "hurricane_messages_in_flight", **w0) == 2
    assert value(samples, "hurricane_messages_prefetched", **w0) == 5
    assert value(samples, "hurricane_message_oldest_seconds", **w0) == pytest.approx(1.5 + 0.75)
    assert value(samples, "hurricane_message_oldest_seconds", **w1) == 0
    assert value(samples, "hurricane_message_last_seconds", **w0) == pytest.approx(3.75)
    assert ("hurricane_message_last_seconds", tuple(sorted(w1.items()))) not in samples  # none yet
    assert value(samples, "hurricane_consumer_registered", **w1) == 0
    assert value(samples, "hurricane_broker_connection", state="connected", **w0) == 1
    assert value(samples, "hurricane_broker_connection", state="disconnected", **w1) == 1
    assert value(samples, "hurricane_broker_connection", state="connected", **w1) == 0


def test_http_servers_show_no_consumer_metrics():
    assert not any(name.startswith("hurricane_message") for name, _ in scrape(SNAPSHOT))
