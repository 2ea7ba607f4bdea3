import pytest

from supervisor import health
from supervisor.options import resolve
from supervisor.probe.state import ProbeState
from supervisor.protocol import Snapshot
from supervisor.wire import from_wire

OPTIONS = resolve({"heartbeat_interval": "1", "heartbeat_timeout": "10", "liveness_grace": "60"})
PASS = {"ok": True, "errors": []}


def heartbeat(**overrides):
    hb = {
        "checks": {"startup": PASS, "liveness": PASS, "readiness": PASS},
        "db": {"default": {"ok": True}},
        "queued": 0,
    }
    hb.update(overrides)
    return hb


def snapshot(*workers, **overrides):
    """A snapshot as the probe gets it, from its wire form."""
    snap = {
        "phase": "running",
        "prestart": "done",
        "startup_done": True,
        "since_healthy_s": 0.0,
        "workers": list(workers),
    }
    snap.update(overrides)
    return from_wire(Snapshot, snap)


def worker(state="ready", hb_age_s=0.1, **hb):
    return {"worker": 0, "pid": 10, "state": state, "hb_age_s": hb_age_s, "heartbeat": heartbeat(**hb)}


def test_all_green():
    snap = snapshot(worker())
    assert health.startup(snap, 0.0, OPTIONS).ok
    assert health.ready(snap, 0.0, OPTIONS).ok
    assert health.alive(snap, 0.0, OPTIONS).ok


def test_startup_waits_for_a_ready_worker_and_passing_startup_checks():
    booting = snapshot(worker(state="booting"), startup_done=False)
    assert health.startup(booting, 0.0, OPTIONS) == health.Verdict(False, "no worker is ready yet")
    failing = {"ok": False, "errors": [{"id": "app.E001", "level": "ERROR", "msg": "cache cold"}]}
    snap = snapshot(worker(checks={"startup": failing}), startup_done=False)
    verdict = health.startup(snap, 0.0, OPTIONS)
    assert not verdict.ok and "app.E001: cache cold" in verdict.reason
    not_run = snapshot(worker(checks={}), startup_done=False)
    assert "not run yet" in health.startup(not_run, 0.0, OPTIONS).reason


def test_startup_waits_for_prestart():
    snap = snapshot(worker(), startup_done=False, prestart="running")
    assert health.startup(snap, 0.0, OPTIONS).reason == "prestart commands running"


def test_readiness_fails_while_draining_but_liveness_holds():
    snap = snapshot(worker(), phase="draining")
    assert health.ready(snap, 0.0, OPTIONS).reason == "shutting down"
    assert health.alive(snap, 0.0, OPTIONS).ok


def test_database_outage_fails_readiness_never_liveness():
    snap = snapshot(worker(db={"default": {"ok": False, "msg": "OperationalError: gone"}}))
    verdict = health.ready(snap, 0.0, OPTIONS)
    assert not verdict.ok and verdict.reason == "database default: OperationalError: gone"
    assert health.alive(snap, 0.0, OPTIONS).ok


def test_stale_heartbeat_fails_readiness():
    assert not health.ready(snapshot(worker(hb_age_s=2.5)), 1.0, OPTIONS).ok
    assert health.ready(snapshot(worker(hb_age_s=1.5)), 0.0, OPTIONS).ok


def test_queue_at_capacity_fails_readiness_unless_another_worker_has_room():
    full = worker(queued=OPTIONS.req_queue_len)
    assert "queued" in health.ready(snapshot(full), 0.0, OPTIONS).reason
    assert health.ready(snapshot(full, worker()), 0.0, OPTIONS).ok


def test_liveness_error_fails_liveness():
    failing = {"ok": False, "errors": [{"id": "app.E002", "level": "CRITICAL", "msg": "deadlock"}]}
    verdict = health.alive(snapshot(worker(checks={"liveness": failing})), 0.0, OPTIONS)
    assert not verdict.ok and "deadlock" in verdict.reason


def test_liveness_holds_during_a_restart_within_grace_then_fails():
    restarting = snapshot(worker(state="booting", hb_age_s=0.0), since_healthy_s=5.0)
    assert health.alive(restarting, 0.0, OPTIONS).ok
    assert not health.alive(snapshot(since_healthy_s=61.0), 0.0, OPTIONS).ok


def test_liveness_fails_when_the_supervisor_goes_quiet():
    verdict = health.alive(snapshot(worker()), 6.0, OPTIONS)
    assert not verdict.ok and "supervisor" in verdict.reason


@pytest.mark.parametrize("check", [health.alive, health.ready, health.startup])
def test_probe_state_answers_503_before_the_first_snapshot(check):
    state = ProbeState(OPTIONS, clock=lambda: 0.0)
    status, body = state.answer(check)
    assert status == 503 and body["status"] == "failing"


def test_probe_state_ages_the_snapshot_with_its_own_clock():
    now = [100.0]
    state = ProbeState(OPTIONS, clock=lambda: now[0])
    state.update(snapshot(worker(hb_age_s=0.5)))
    assert state.answer(health.ready)[0] == 200
    now[0] += 3.0
    status, body = state.answer(health.ready)
    assert status == 503
    assert body["workers"][0]["heartbeat_age_s"] == 3.5


# -- consumer workers: the broker link in the heartbeat --------------------------------------


def consumer(link="connected", registered=True, in_flight=0, oldest_s=0.0, error=""):
    return {
        "consumer": {
            "link": link,
            "registered": registered,
            "error": error,
            "in_flight": in_flight,
            "oldest_s": oldest_s,
        }
    }


CONSUMING = resolve(
    {"handler": "a.b", "queue": "q", "amqp_host": "mq", "handler_timeout": "30", "heartbeat_interval": "1"},
    command="consume",
)


def test_a_registered_consumer_is_ready():
    snap = snapshot(worker(**consumer()))
    assert health.startup(snap, 0.0, CONSUMING).ok
    assert health.ready(snap, 0.0, CONSUMING).ok
    assert health.alive(snap, 0.0, CONSUMING).ok


def test_startup_waits_for_the_broker_to_confirm_the_consumer():
    snap = snapshot(worker(**consumer(registered=False)), startup_done=False)
    assert health.startup(snap, 0.0, CONSUMING).reason == "consumer not registered with the broker yet"
    refused = consumer(link="disconnected", registered=False, error="ConnectionRefusedError: refused")
    verdict = health.startup(snapshot(worker(**refused), startup_done=False), 0.0, CONSUMING)
    assert verdict == health.Verdict(False, "broker disconnected: ConnectionRefusedError: refused")


def test_a_broker_outage_fails_readiness_never_liveness():
    lost = consumer(link="disconnected", registered=False, error="320 CONNECTION_FORCED")
    snap = snapshot(worker(**lost))
    assert health.ready(snap, 0.0, CONSUMING).reason == "broker disconnected: 320 CONNECTION_FORCED"
    assert health.alive(snap, 0.0, CONSUMING).ok
    assert health.ready(snapshot(worker(**lost), worker(**consumer())), 0.0, CONSUMING).ok  # another consumes


def test_a_handler_past_the_handler_timeout_fails_liveness_until_its_worker_is_being_replaced():
    stuck = worker(**consumer(in_flight=1, oldest_s=29.5))
    assert health.alive(snapshot(stuck), 0.0, CONSUMING).ok
    verdict = health.alive(snapshot(stuck), 1.0, CONSUMING)  # the snapshot aged: 29.5 + 0.1 + 1.0
    assert not verdict.ok and "--handler-timeout 30s" in verdict.reason
    retiring = {**stuck, "retiring": "handler-timeout"}
    assert health.alive(snapshot(retiring), 1.0, CONSUMING).ok
    assert health.alive(snapshot(worker(**consumer(in_flight=0, oldest_s=99.0))), 0.0, CONSUMING).ok


def test_http_workers_have_no_broker():
    assert health.consumer_failure(snapshot(worker()).workers[0].heartbeat) is None
