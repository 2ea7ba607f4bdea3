"""The typed messages: their bytes on the pipe are pinned, and decoding is strict about types."""

import json
import logging

import pytest

from supervisor import protocol
from supervisor.protocol import (
    BootError,
    BrokerLink,
    CheckError,
    CheckResult,
    ConsumerState,
    Counters,
    DbResult,
    Heartbeat,
    Latency,
    MessageCounts,
    Phase,
    RestartReason,
    RunningRequest,
    Snapshot,
    WorkerReport,
    WorkerState,
)

HEARTBEAT = Heartbeat(
    pid=42,
    worker=1,
    state=WorkerState.READY,
    loop_lag_ms=0.5,
    in_flight=2,
    queued=1,
    threads=32,
    requests_total=7,
    oldest_request=RunningRequest("GET", "/slow", 1.25),
    rss_bytes=1024,
    checks={"readiness": CheckResult(False, (CheckError("app.E001", "ERROR", "cache cold"),), 1.5, 0.2)},
    db={"default": DbResult(True, "", 0.3)},
    routes={"inline": 1, "serial": 0},
    counters=Counters({"GET": {"2xx": 7}}, Latency((1, 2), 0.01)),
)

HEARTBEAT_LINE = (
    b'{"v":1,"pid":42,"worker":1,"state":"ready","loop_lag_ms":0.5,"in_flight":2,"queued":1,'
    b'"connections":0,"websockets":0,"threads":32,"requests_total":7,"oldest_request":{"method":"GET","path":"/slow","age_s":1.25},'
    b'"rss_bytes":1024,"checks":{"readiness":{"ok":false,"errors":[{"id":"app.E001","level":"ERROR",'
    b'"msg":"cache cold","hint":null}],"took_ms":1.5,"age_s":0.2}},"db":{"default":{"ok":true,'
    b'"msg":"","took_ms":0.3}},"debugger":false,"routes":{"inline":1,"serial":0},"counters":'
    b'{"responses":{"GET":{"2xx":7}},"latency":{"buckets":[1,2],"sum_s":0.01},"websocket_messages":{},'
    b'"websocket_closes":{},"websocket_refused":{},"messages":null},"unmeasured":{},"consumer":null,'
    b'"type":"heartbeat"}\n'
)

# A consumer worker's heartbeat: what it adds (the same line shape, nothing of an HTTP worker's).
CONSUMER_HEARTBEAT = Heartbeat(
    pid=43,
    state=WorkerState.READY,
    threads=4,
    counters=Counters(
        messages=MessageCounts({"acked": 9, "rejected": 1}, Latency((3, 10), 1.5), reconnects=2)
    ),
    consumer=ConsumerState(BrokerLink.DISCONNECTED, False, "320 CONNECTION_FORCED", 1, 2, 0.75, 4.0),
)
CONSUMER_LINE = (
    b'{"v":1,"pid":43,"worker":0,"state":"ready","loop_lag_ms":0.0,"in_flight":0,"queued":0,'
    b'"connections":0,"websockets":0,"threads":4,"requests_total":0,"oldest_request":null,"rss_bytes":null,"checks":{},"db":{},'
    b'"debugger":false,"routes":{},"counters":{"responses":{},"latency":{"buckets":[],"sum_s":0.0},'
    b'"websocket_messages":{},"websocket_closes":{},"websocket_refused":{},'
    b'"messages":{"outcomes":{"acked":9,"rejected":1},"duration":{"buckets":[3,10],"sum_s":1.5},'
    b'"reconnects":2}},"unmeasured":{},"consumer":{"link":"disconnected","registered":false,'
    b'"error":"320 CONNECTION_FORCED","in_flight":1,"prefetched":2,"oldest_s":0.75,'
    b'"since_message_s":4.0},"type":"heartbeat"}\n'
)


def test_a_heartbeat_line_is_pinned_byte_for_byte_and_decodes_to_the_same_heartbeat():
    line = protocol.encode(HEARTBEAT)
    assert line == HEARTBEAT_LINE
    assert protocol.decode_child(json.loads(line), "test") == HEARTBEAT


def test_a_consumer_heartbeat_line_is_pinned_too():
    line = protocol.encode(CONSUMER_HEARTBEAT)
    assert line == CONSUMER_LINE
    assert protocol.decode_child(json.loads(line), "test") == CONSUMER_HEARTBEAT
    unknown_link = json.loads(line)
    unknown_link["consumer"]["link"] = "teleporting"
    assert protocol.decode_child(unknown_link, "test") is None


def test_a_snapshot_round_trips():
    report = WorkerReport(0, 42, WorkerState.DRAINING, 0.1, 2, "exited with code 1", RestartReason.HANG)
    snap = Snapshot(Phase.RUNNING, workers=(report,), restarts={"hang": 1}, startup_done=True)
    line = protocol.encode(snap, limit=1 << 20)
    assert json.loads(line)["workers"][0]["retiring"] == "hang"
    assert protocol.decode_snapshot(json.loads(line), "test") == snap


def test_unknown_fields_are_ignored_and_missing_ones_take_their_defaults():
    data = {"v": 1, "type": "heartbeat", "pid": 5, "state": "booting", "from_the_future": [1]}
    assert protocol.decode_child(data, "test") == Heartbeat(pid=5)


@pytest.mark.parametrize(
    "data",
    [
        {"v": 1, "type": "heartbeat", "pid": "5"},  # a string where an int belongs
        {"v": 1, "type": "heartbeat", "in_flight": True},  # a boolean is not a count
        {"v": 1, "type": "heartbeat", "state": "dancing"},
        {"v": 1, "type": "heartbeat", "checks": {"startup": {"errors": []}}},  # ok is required
        {"v": 1, "type": "boot_error"},  # error is required
        {"v": 1, "type": "launch_missiles"},
        {"v": 1},
    ],
)
def test_a_malformed_message_is_logged_and_skipped(data, caplog):
    with caplog.at_level(logging.WARNING, "hurricane.supervisor"):
        assert protocol.decode_child(data, "worker 0") is None
    assert "worker 0" in caplog.text


def test_message_types_decode_to_their_classes():
    line = protocol.encode(BootError("ImportError: no module named x", 9))
    assert protocol.decode_child(json.loads(line), "test") == BootError("ImportError: no module named x", 9)


def test_encode_refuses_lines_that_would_not_be_atomic():
    with pytest.raises(protocol.LineTooLong):
        protocol.encode(BootError("x" * protocol.MAX_LINE))


def test_exit_codes_do_not_collide_with_djangos_reloader():
    assert 3 not in {protocol.EXIT_BOOT_ERROR, protocol.EXIT_PARENT_GONE, protocol.EXIT_USAGE}
