"""/metrics on the probe port of the real serve: counts, histogram, gauges, restarts."""

import http.client
import os
import signal
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.serving import serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def scrape(server, path="/metrics"):
    status, headers, body = server.request("GET", path, port=server.probe_port, timeout=5.0)
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples, name, **labels):
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def test_requests_latency_and_worker_gauges():
    with serving("--workers", "2") as server:
        for _ in range(5):
            assert server.get("/hello")[0] == 200
        assert server.get("/no-such-page")[0] == 404
        assert server.request("POST", "/echo", body=b"{}")[0] == 200

        def counted():
            samples = scrape(server)
            # /ready needs one worker; the second one's first check round may still be running.
            settled = total(samples, "hurricane_check_ok", tag="readiness") == 2
            return settled and total(samples, "hurricane_request_duration_seconds_count") == 7 and samples

        samples = wait_until(
            counted, 10, "7 requests and both workers' checks in /metrics", lambda: server.output
        )
        assert total(samples, "hurricane_requests_total", method="GET", status="2xx") == 5
        assert total(samples, "hurricane_requests_total", method="GET", status="4xx") == 1
        assert total(samples, "hurricane_requests_total", method="POST", status="2xx") == 1
        assert total(samples, "hurricane_request_duration_seconds_bucket", le="+Inf") == 7
        assert total(samples, "hurricane_workers", state="ready") == 2
        pids = {dict(ls)["pid"] for n, ls in samples if n == "hurricane_worker_rss_bytes"}
        assert pids == {str(p) for p in server.worker_pids()}
        assert all(v > 10_000_000 for (n, _), v in samples.items() if n == "hurricane_worker_rss_bytes")
        assert total(samples, "hurricane_check_ok", tag="readiness") == 2
        assert total(samples, "hurricane_database_ok", alias="default") == 2
        assert 0 < total(samples, "hurricane_startup_duration_seconds") < 30
        assert 0 <= total(samples, "hurricane_worker_heartbeat_age_seconds") < 2


def test_a_slow_request_shows_in_flight_then_in_a_slower_bucket():
    with serving() as server:
        slow = threading.Thread(target=server.get, args=("/sleep?s=1.5",))
        slow.start()
        try:
            wait_until(
                lambda: total(scrape(server), "hurricane_requests_in_flight") == 1,
                10,
                "one request in flight",
                lambda: server.output,
            )
        finally:
            slow.join(10)

        def finished():
            samples = scrape(server)
            return total(samples, "hurricane_request_duration_seconds_count") == 1 and samples

        samples = wait_until(finished, 10, "the slow request to be counted", lambda: server.output)
        assert total(samples, "hurricane_requests_in_flight") == 0
        assert total(samples, "hurricane_request_duration_seconds_bucket", le="1.0") == 0
        assert total(samples, "hurricane_request_duration_seconds_bucket", le="2.5") == 1
        assert total(samples, "hurricane_request_duration_seconds_sum") >= 1.5


def test_counters_survive_a_worker_restart_and_restarts_are_counted():
    with serving() as server:
        for _ in range(4):
            server.get("/hello")
        wait_until(
            lambda: total(scrape(server), "hurricane_requests_total") == 4,
            10,
            "4 requests",
            lambda: server.output,
        )
        [old] = server.worker_pids()
        os.kill(old, signal.SIGKILL)
        seen = []

        def replaced():
            samples = scrape(server)
            seen.append(total(samples, "hurricane_requests_total"))
            return total(samples, "hurricane_worker_restarts_total", reason="crash") == 1 and samples

        wait_until(replaced, 30, "the restart to be counted", lambda: server.output)
        server.wait_ready()
        assert seen and min(seen) == 4, seen  # never went backwards meanwhile
        server.get("/hello")
        wait_until(
            lambda: total(scrape(server), "hurricane_requests_total", method="GET", status="2xx") == 5,
            10,
            "old and new worker's requests together",
            lambda: server.output,
        )


def test_metrics_path_is_configurable_and_can_be_turned_off():
    with serving("--metrics", "/internal/prom") as server:
        assert scrape(server, "/internal/prom")
        assert server.request("GET", "/metrics", port=server.probe_port)[0] == 404
    with serving("--no-metrics") as server:
        assert server.request("GET", "/metrics", port=server.probe_port)[0] == 404
        assert server.probe_ok("/ready")


def test_scrape_time_stays_small():
    with serving("--workers", "2") as server:
        for _ in range(20):
            server.get("/hello")
        scrape(server)
        started = time.perf_counter()
        for _ in range(20):
            scrape(server)
        per_scrape = (time.perf_counter() - started) / 20
        assert per_scrape < 0.25, per_scrape  # Kubernetes gives probes 1 s; metrics share the port


def test_a_request_finished_while_draining_counts_once_the_worker_stops():
    with serving("--heartbeat-interval", "5", "--heartbeat-timeout", "20") as server:
        [pid] = server.worker_pids()
        conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=10)
        try:
            conn.request("GET", "/sleep?s=1")
            # Queued or in flight: the worker finishes it while draining, after the
            # heartbeat that announced the drain and before any periodic one.
            os.kill(pid, signal.SIGTERM)
            assert conn.getresponse().status == 200
        finally:
            conn.close()
        wait_until(
            lambda: total(scrape(server), "hurricane_requests_total", method="GET", status="2xx") == 1,
            15,
            "the stopped worker's last request in the totals",
            lambda: server.output,
        )
