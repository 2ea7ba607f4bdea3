import logging
import threading

from supervisor.options import resolve
from supervisor.protocol import Snapshot
from supervisor.webhooks import Sender, Webhooks
from supervisor.wire import from_wire

OPTIONS = resolve({"webhook_url": "http://hooks.invalid/x"}, {"HURRICANE_VERSION": "7"})


class Recorder:
    def __init__(self):
        self.payloads = []

    def put(self, payload):
        self.payloads.append(payload)

    def close(self, timeout):
        self.closed = timeout


def snapshot(started=True, phase="running", state="ready", queued=0):
    heartbeat = {
        "queued": queued,
        "checks": {tag: {"ok": True} for tag in ("startup", "liveness", "readiness")},
        "db": {"default": {"ok": True}},
    }
    worker = {"worker": 0, "pid": 1, "state": state, "hb_age_s": 0.0, "heartbeat": heartbeat}
    snap = {"startup_done": started, "phase": phase, "workers": [worker], "since_healthy_s": 0.0}
    return from_wire(Snapshot, snap)


def kinds(recorder):
    return [(p["type"], p["status"]) for p in recorder.payloads]


def test_nothing_before_startup_then_startup_then_only_changes():
    recorder = Recorder()
    hooks = Webhooks(OPTIONS, recorder, hostname="pod-1")
    hooks.observe(snapshot(started=False))
    assert recorder.payloads == []
    for snap in [snapshot(), snapshot(), snapshot(queued=50), snapshot(queued=50), snapshot()]:
        hooks.observe(snap)
    assert kinds(recorder) == [
        ("startup", "succeeded"),
        ("readiness", "failed"),
        ("readiness", "succeeded"),
    ]
    first = recorder.payloads[0]
    assert first["hostname"] == first["podname"] == "pod-1"
    assert first["version"] == "7"
    assert "10 requests queued" not in recorder.payloads[1]["reason"]
    assert "50 requests queued" in recorder.payloads[1]["reason"]


def test_a_failed_startup_is_reported_once_on_exit():
    recorder = Recorder()
    hooks = Webhooks(OPTIONS, recorder)
    hooks.finished(1, "the application cannot start: ImportError")
    assert kinds(recorder) == [("startup", "failed")]
    assert recorder.payloads[0]["reason"] == "the application cannot start: ImportError"
    assert recorder.closed > 0


def test_a_clean_exit_after_startup_sends_no_failure():
    recorder = Recorder()
    hooks = Webhooks(OPTIONS, recorder)
    hooks.observe(snapshot())
    hooks.finished(0, None)
    assert kinds(recorder) == [("startup", "succeeded")]


def test_the_sender_logs_failures_keeps_going_and_hides_the_path(caplog):
    sent = []
    gate = threading.Event()

    def post(url, body, timeout):
        gate.wait(5)
        if not sent:
            sent.append("boom")
            raise OSError("Connection refused")
        sent.append(body)

    sender = Sender("http://hooks.invalid:81/secret-token", post)
    with caplog.at_level(logging.WARNING, "hurricane.supervisor"):
        sender.put({"type": "startup", "status": "succeeded"})
        sender.put({"type": "readiness", "status": "failed"})
        gate.set()  # put() returned while the thread was still blocked in post()
        sender.close(5)
    assert len(sent) == 2
    [record] = caplog.records
    assert record.getMessage() == "webhook startup/succeeded to hooks.invalid:81 failed: Connection refused"
    assert "secret-token" not in caplog.text
