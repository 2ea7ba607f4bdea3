"""The real ``manage.py consume`` against a private RabbitMQ node (tests/services.py).

Handlers (tests/consumer_handlers.py) record every message they start and finish
in a file, so each test can say exactly what was handled, how often, and by
which worker. Queues get unique names; the broker is started once per session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from tests.consuming import broker, consume_env, consuming, metric, unique, wait_metric, worker_pids
from tests.serving import wait_until

pytestmark = pytest.mark.integration

PLAIN = "consumer_handlers.record"


def registered(server) -> int:
    """Consumer workers the broker has confirmed, as /alive's body lists them."""
    _, body = server.probe("/alive")
    return sum(1 for w in body["workers"] if w.get("consumer", {}).get("registered"))


def url_of(rabbitmq, **query: str) -> str:
    tail = "&".join(f"{k}={v}" for k, v in query.items())
    return rabbitmq.url.rstrip("/") + "/%2F" + (f"?{tail}" if tail else "")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "extra",
    [(), ("--workers", "2", "--concurrency", "4")],
    ids=["one worker", "two workers, four handlers each"],
)
def test_each_of_1000_messages_is_handled_exactly_once(rabbitmq, mq, record, extra):
    queue = mq.queue(unique("once"))
    with consuming(
        PLAIN, "--queue", queue, "--amqp-url", rabbitmq.url, *extra, env=consume_env(record.path)
    ) as c:
        workers = 2 if extra else 1
        wait_until(lambda: registered(c) == workers, 20, "every worker consuming", lambda: c.output)
        ids = mq.publish([{}] * 1000, queue)
        record.wait_done(ids, 60, lambda: c.output)
        wait_metric(c, 1000, "hurricane_messages_total", outcome="acked")
        assert mq.count(queue) == 0
        c.signal(signal.SIGTERM)
        assert c.wait_exit(30) == 0
    done = record.done()
    assert set(done) == set(ids) and set(done.values()) == {1}, "each message handled exactly once"
    if extra:
        assert len({e.pid for e in record.events()}) == 2, "both workers handled messages"


@pytest.mark.timeout(120)
def test_an_async_handler_runs_concurrently_on_the_loop(rabbitmq, mq, record):
    queue = mq.queue(unique("async"))
    ids = mq.publish([{"sleep": 0.2}] * 40, queue)
    args = (
        "consumer_handlers.record_async",
        "--queue",
        queue,
        "--amqp-url",
        rabbitmq.url,
        "--concurrency",
        "8",
    )
    started = time.monotonic()
    with consuming(*args, env=consume_env(record.path)) as c:
        record.wait_done(ids, 30, lambda: c.output)
        # 40 messages of 0.2 s one at a time would take 8 s.
        assert time.monotonic() - started < 8
    assert set(record.done().values()) == {1}


@pytest.mark.timeout(120)
def test_a_poison_message_ends_in_the_dead_letter_queue_after_two_deliveries(rabbitmq, mq, record):
    dlx, dead, work = unique("dlx"), unique("dead"), unique("work")
    mq.channel.exchange_declare(dlx, "fanout")
    mq.queue(dead)
    mq.channel.queue_bind(dead, dlx)
    mq.queue(work, **{"x-dead-letter-exchange": dlx})
    [poison, good] = mq.publish([{"fail": True}, {}], work)
    args = (PLAIN, "--queue", work, "--no-declare", "--amqp-url", rabbitmq.url)
    with consuming(*args, env=consume_env(record.path)) as c:
        record.wait_done([good], 30, lambda: c.output)
        wait_until(
            lambda: mq.count(dead) == 1, 30, "the poison message in the dead-letter queue", lambda: c.output
        )
        wait_metric(c, 1, "hurricane_messages_total", outcome="requeued")
        wait_metric(c, 1, "hurricane_messages_total", outcome="rejected")
        assert c.probe_ok("/ready"), "the consumer goes on"
    attempts = [e for e in record.events() if e.id == poison and e.event == "start"]
    assert [e.redelivered for e in attempts] == [False, True]
    [(_, properties, _)] = mq.take_all(dead)
    assert properties.message_id == poison
    assert properties.headers["x-death"][0]["reason"] == "rejected"
    assert mq.count(work) == 0


@pytest.mark.timeout(240)
def test_a_broker_outage_fails_readiness_not_liveness_and_loses_nothing(rabbitmq, mq, record):
    queue = mq.queue(unique("outage"), durable=True)
    ids = mq.publish([{"sleep": 0.005}] * 3000, queue, persistent=True)
    args = (PLAIN, "--queue", queue, "--no-declare", "--amqp-url", rabbitmq.url, "--prefetch", "10")
    with consuming(*args, env=consume_env(record.path)) as c:
        wait_until(lambda: len(record.done()) >= 200, 30, "consumption under way", lambda: c.output)
        mq.close()
        with rabbitmq.down():
            stopped = time.monotonic()
            wait_until(lambda: not c.probe_ok("/ready"), 5, "/ready to fail", lambda: c.output)
            assert time.monotonic() - stopped < 5
            while time.monotonic() - stopped < 20:  # the outage: liveness holds all along
                status, body = c.probe("/alive")
                assert status == 200, body
                time.sleep(0.2)
            status, body = c.probe("/ready")
            assert status == 503 and "broker" in body["reason"]
        during = len(record.done())
        assert during < len(ids), "the outage came before consumption ended"
        c.wait_ready(60)
        record.wait_done(ids, 120, lambda: c.output)
        assert metric(c, "hurricane_broker_reconnects_total") >= 1
        pids = worker_pids(c)
    done = record.done()
    assert set(done) == set(ids), "nothing lost"
    assert set(done.values()) == {1}, f"handled twice: {[i for i, n in done.items() if n > 1]}"
    assert len({e.pid for e in record.events()} | set(pids)) == 1, "the worker was never restarted"
    with broker(rabbitmq.url) as again:
        assert again.count(queue) == 0


@pytest.mark.timeout(120)
def test_sigterm_finishes_handlers_in_progress_and_returns_prefetched_messages(rabbitmq, mq, record):
    queue = mq.queue(unique("drain"))
    ids = mq.publish([{"sleep": 1.0}] * 30, queue)
    args = (PLAIN, "--queue", queue, "--amqp-url", rabbitmq.url, "--concurrency", "3", "--prefetch", "9")
    with consuming(*args, env=consume_env(record.path)) as c:
        wait_until(lambda: len(record.started()) >= 3, 30, "three handlers running", lambda: c.output)
        c.signal(signal.SIGTERM)
        assert c.wait_exit(30) == 0
        assert "given back to the queue" in c.output
    started, done = record.started(), record.done()
    assert started.keys() == done.keys(), "every handler in progress finished"
    assert set(done.values()) == {1}
    left = [properties.message_id for _, properties, _ in mq.take_all(queue)]
    assert sorted(left + list(done), key=ids.index) == ids, "every message handled or back in the queue"
    assert len(left) >= 6, "the prefetched messages went back"


@pytest.mark.timeout(120)
def test_kill_9_of_a_consumer_worker_redelivers_its_unacked_messages(rabbitmq, mq, record):
    queue = mq.queue(unique("crash"))
    ids = mq.publish([{"sleep": 0.5}] * 24, queue)
    args = (PLAIN, "--queue", queue, "--amqp-url", rabbitmq.url, "--concurrency", "4", "--prefetch", "8")
    with consuming(*args, env=consume_env(record.path)) as c:
        wait_until(lambda: len(record.started()) >= 4, 30, "handlers running", lambda: c.output)
        [victim] = worker_pids(c)
        cut = set(record.started()) - set(record.done())
        os.kill(victim, signal.SIGKILL)
        c.wait_for_line(r"killed by SIGKILL")
        record.wait_done(ids, 60, lambda: c.output)
        assert victim not in worker_pids(c)
        wait_metric(c, 1, "hurricane_worker_restarts_total", reason="crash")
    redelivered = {e.id for e in record.events() if e.event == "start" and e.redelivered}
    assert cut and cut <= redelivered, "the messages cut off came back and were handled"
    assert mq.count(queue) == 0


@pytest.mark.timeout(120)
def test_a_sync_handler_sleeping_three_broker_heartbeats_still_acks(rabbitmq, mq, record):
    queue = mq.queue(unique("slow"))
    [slow] = mq.publish([{"sleep": 6.0}], queue)
    url = url_of(rabbitmq, heartbeat="2")
    with consuming(PLAIN, "--queue", queue, "--amqp-url", url, env=consume_env(record.path)) as c:
        record.wait_done([slow], 30, lambda: c.output)
        wait_metric(c, 1, "hurricane_messages_total", outcome="acked")
        assert metric(c, "hurricane_broker_reconnects_total") == 0
        assert c.probe_ok("/ready")
    assert [e.redelivered for e in record.events() if e.event == "start"] == [False]
    assert mq.count(queue) == 0


@pytest.mark.timeout(120)
def test_a_django_hurricane_topic_handler_runs_unchanged(rabbitmq, mq, record, example_database):
    exchange, queue = unique("shop"), unique("orders")
    args = ("consumer_handlers.Orders", "--exchange", exchange, "--queue", queue, "--amqp-host", "127.0.0.1")
    env = consume_env(
        record.path, HURRICANE_AMQP_PORT=str(rabbitmq.port), AMQP_USER="guest", AMQP_PASSWORD="guest"
    )
    with consuming(*args, env=env) as c:  # declares the topic exchange and binds "orders.*"
        ids = mq.publish([{"order": 1}, {"order": 2}], "orders.created", exchange=exchange)
        mq.publish([{"order": 3}], "invoices.created", exchange=exchange, first=2)  # not bound: not ours
        record.wait_done(ids, 30, lambda: c.output)
        assert mq.count(queue) == 0
    assert set(record.done()) == set(ids)
    with contextlib.closing(sqlite3.connect(example_database)) as db:  # the ORM worked on its thread
        texts = [row[0] for row in db.execute("SELECT text FROM notes_note")]
    assert 'orders.created: {"order": 1}' in texts


@pytest.mark.timeout(60)
def test_startup_waits_for_the_broker_and_liveness_does_not(tmp_path):
    from tests.services import free_ports

    [port] = free_ports(1)  # nothing listens there
    args = (PLAIN, "--queue", "q", "--amqp-host", "127.0.0.1", "--amqp-port", str(port))
    with consuming(*args, env=consume_env(tmp_path / "r.jsonl"), ready=False) as c:
        # A worker runs, its first attempt failed: the startup probe says why.
        wait_until(
            lambda: "Connection refused" in c.probe("/startup")[1]["reason"],
            20,
            "the refusal",
            lambda: c.output,
        )
        status, body = c.probe("/startup")
        assert status == 503 and body["reason"].startswith("broker disconnected"), body
        assert c.probe("/ready")[0] == 503
        assert c.probe("/alive")[0] == 200
        [worker] = c.probe("/alive")[1]["workers"]
        assert worker["state"] == "ready" and worker["consumer"]["link"] == "disconnected"


@pytest.mark.timeout(120)
def test_credentials_are_never_logged(rabbitmq, tmp_path):
    secret = "s3cret-Passw0rd"
    url = f"amqp://guest:{secret}@127.0.0.1:{rabbitmq.port}/%2F"
    with consuming(
        PLAIN, "--queue", "q", "--amqp-url", url, env=consume_env(tmp_path / "r"), ready=False
    ) as c:
        c.wait_for_line(r"cannot consume from the broker")
        wait_until(
            lambda: "ACCESS_REFUSED" in c.probe("/startup")[1]["reason"], 10, "the refusal", lambda: c.output
        )
        status, body = c.probe("/startup")
        assert status == 503
        output = c.output + str(body)
    assert secret not in output
    assert "guest:***@" in output


@pytest.mark.timeout(180)
def test_a_handler_past_the_handler_timeout_fails_liveness_and_its_worker_is_replaced(rabbitmq, mq, record):
    queue = mq.queue(unique("stuck"))
    [stuck] = mq.publish([{"sleep": 30.0}], queue)
    args = (
        PLAIN,
        "--queue",
        queue,
        "--amqp-url",
        rabbitmq.url,
        "--handler-timeout",
        "1",
        "--graceful-timeout",
        "1",
    )
    with consuming(*args, env=consume_env(record.path)) as c:
        wait_until(record.started, 20, "the handler", lambda: c.output)
        [first] = worker_pids(c)
        wait_until(lambda: c.probe("/alive")[0] == 503, 10, "/alive to fail", lambda: c.output)
        assert "--handler-timeout" in c.probe("/alive")[1]["reason"]
        wait_until(lambda: first not in worker_pids(c), 30, "the worker to be replaced", lambda: c.output)
        assert "past --handler-timeout" in c.output  # with the thread's stack
        wait_metric(c, 1, "hurricane_worker_restarts_total", reason="handler-timeout")
        wait_until(lambda: c.probe("/alive")[0] == 200 or None, 10, "/alive again", lambda: c.output)
        # The message went back: the new worker has it now.
        wait_until(lambda: record.started()[stuck] == 2, 30, "the redelivery", lambda: c.output)


@pytest.mark.timeout(120)
def test_a_blocked_event_loop_is_a_hang_and_its_message_comes_back(rabbitmq, mq, record):
    queue = mq.queue(unique("hang"))
    [blocking] = mq.publish([{"block": 60}], queue)
    args = (
        "consumer_handlers.block_loop",
        "--queue",
        queue,
        "--amqp-url",
        rabbitmq.url,
        "--heartbeat-timeout",
        "1",
    )
    with consuming(*args, env=consume_env(record.path)) as c:
        c.wait_for_line(r"sent no heartbeat for [\d.]+s: hung")
        record.wait_done([blocking], 30, lambda: c.output)  # redelivered to the replacement
        wait_metric(c, 1, "hurricane_worker_restarts_total", reason="hang")
    assert [e.redelivered for e in record.events() if e.event == "start"] == [False, True]


@pytest.mark.timeout(120)
def test_max_lifetime_recycles_a_consumer_worker_after_its_messages(rabbitmq, mq, record):
    queue = mq.queue(unique("lifetime"))
    args = (PLAIN, "--queue", queue, "--amqp-url", rabbitmq.url, "--max-lifetime", "50")
    with consuming(*args, env=consume_env(record.path)) as c:
        [first] = worker_pids(c)
        ids = mq.publish([{"sleep": 0.01}] * 60, queue)
        record.wait_done(ids, 60, lambda: c.output)
        # The old worker goes on consuming until its replacement is registered: new first.
        c.wait_for_line(rf"worker 0 \(pid {first}\) exited with code 0 \(max-messages\)")
        [second] = wait_until(lambda: [p for p in worker_pids(c) if p != first], 10, "the replacement")
        more = mq.publish([{"sleep": 0.01}] * 60, queue, first=60)  # all for the second worker
        record.wait_done(more, 60, lambda: c.output)
        c.wait_for_line(rf"worker 0 \(pid {second}\) exited with code 0 \(max-messages\)")
        wait_metric(c, 2, "hurricane_worker_restarts_total", reason="max-messages")
        assert "--max-lifetime is deprecated" not in c.output
    done = record.done()
    assert set(done) == set(ids + more) and set(done.values()) == {1}
    assert sum(1 for e in record.events() if e.event == "done" and e.pid == first) >= 50


def run_consume(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    from tests.serving import start, stop

    server = start(*args, env=env, fast=False, command="consume")
    try:
        code = server.wait_exit(60)
    finally:
        stop(server)
    return code, server.output


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "option --handler is missing"),
        (("consumer_handlers.record",), "option --amqp-host is missing"),
        (
            ("consumer_handlers.NotAHandler", "--queue", "q", "--amqp-host", "h"),
            "is a class but not a TopicHandler",
        ),
        (("consumer_handlers.nothing", "--queue", "q", "--amqp-host", "h"), "cannot be imported"),
        ((PLAIN, "--queue", "q", "--amqp-host", "h", "--exchange-type", "fan"), "is not an exchange type"),
        (
            (PLAIN, "--queue", "q", "--amqp-url", "amqp://u:hidden@h:x/"),
            'option --amqp-url: "amqp://u:***@h:x/"',
        ),
        ((PLAIN, "--amqp-host", "h", "--no-declare"), "--no-declare consumes an existing queue"),
        ((PLAIN, "--queue", "q", "--amqp-host", "h", "--concurrency", "4", "--prefetch", "2"), "less than"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args, message):
    code, output = run_consume(*args)
    assert code == 2, output
    assert message in output
    assert "hidden" not in output
    assert len([line for line in output.splitlines() if line.strip()]) == 1, output


@pytest.mark.timeout(60)
def test_a_missing_amqp_client_names_the_extra(tmp_path):
    from tests.serving import shadowing

    env = shadowing(tmp_path, "pika", "raise ImportError('no pika here')\n")
    code, output = run_consume(PLAIN, "--queue", "q", "--amqp-host", "h", env=env)
    assert code == 2
    assert "pip install 'hurricane-server[amqp]'" in output


RELOADED = """
from consumer_handlers import note


def handle(message):
    note("{version}", message.message_id, message.redelivered)
"""


@pytest.mark.timeout(120)
def test_autoreload_replaces_consumer_workers_with_the_new_code(rabbitmq, mq, record, tmp_path):
    code = tmp_path / "reloaded_handler.py"
    code.write_text(RELOADED.format(version="v1"))
    queue = mq.queue(unique("reload"))
    env = consume_env(record.path)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    args = ("reloaded_handler.handle", "--queue", queue, "--amqp-url", rabbitmq.url, "--autoreload")
    with consuming(*args, env=env) as c:
        mq.publish([{}], queue)
        wait_until(lambda: [e.event for e in record.events()] == ["v1"], 20, "v1", lambda: c.output)
        c.wait_for_line(r"watching \d+ files for code changes")
        [first] = worker_pids(c)
        code.write_text(RELOADED.format(version="v2"))
        c.wait_for_line(rf"worker 0 \(pid {first}\) replaced by pid \d+ \(code-change\)")
        # The old worker consumes until its replacement is registered, and then drains.
        c.wait_for_line(rf"worker 0 \(pid {first}\) exited with code 0 \(code-change\)")
        mq.publish([{}], queue, first=1)
        wait_until(lambda: [e.event for e in record.events()] == ["v1", "v2"], 20, "v2", lambda: c.output)


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    """A second private node with a TLS listener, its certificate signed by a CA of our own."""
    from tests.services import RabbitMQServer, ServiceUnavailable, free_ports

    certs = tmp_path_factory.mktemp("tls")
    ca, ca_key, key, csr, cert, ext = (
        certs / n for n in ("ca.pem", "ca.key", "key.pem", "s.csr", "cert.pem", "ext")
    )
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
            "-days", "2", "-subj", "/CN=hurricane test CA")  # fmt: skip
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=localhost",
    )
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    [port] = free_ports(1)
    config = (
        f"listeners.ssl.1 = 127.0.0.1:{port}\nssl_options.cacertfile = {ca}\nssl_options.certfile = {cert}\n"
        f"ssl_options.keyfile = {key}\nssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n"
    )
    try:
        server = RabbitMQServer(extra_config=config)
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    with server:
        yield server, port, ca


@pytest.mark.timeout(180)
def test_amqps_verifies_the_broker_and_consumes(tls_broker, record):
    server, port, ca = tls_broker
    url = f"amqps://guest:guest@localhost:{port}/%2F"
    with broker(server.url) as mq:
        queue = mq.queue(unique("tls"))
        ids = mq.publish([{}] * 5, queue)
        args = (PLAIN, "--queue", queue, "--amqp-url", url)
        untrusted = consume_env(record.path)
        untrusted.pop("SSL_CERT_FILE", None)
        with consuming(*args, env=untrusted, ready=False) as c:
            wait_until(
                lambda: "CERTIFICATE_VERIFY_FAILED" in c.probe("/startup")[1]["reason"],
                30,
                "a refused certificate",
                lambda: c.output,
            )
        with consuming(*args, env=consume_env(record.path, SSL_CERT_FILE=str(ca))) as c:
            record.wait_done(ids, 30, lambda: c.output)
            assert f"from amqps://guest:***@localhost:{port}/%2F" in c.output


@pytest.mark.timeout(120)
def test_a_deleted_queue_fails_readiness_until_the_consumer_is_back_and_webhooks_say_so(rabbitmq, mq, record):
    from tests.webhook_receiver import receiving

    queue = mq.queue(unique("deleted"))
    with receiving() as hooks:
        args = (PLAIN, "--queue", queue, "--amqp-url", rabbitmq.url, "--webhook-url", hooks.url)
        with consuming(*args, env=consume_env(record.path)) as c:
            wait_until(lambda: hooks.find(type="startup", status="succeeded"), 20, "the startup webhook")
            mq.channel.queue_delete(queue)  # the broker cancels the consumer
            wait_until(
                lambda: hooks.find(type="readiness", status="failed"),
                20,
                "readiness failed",
                lambda: c.output,
            )
            [failed] = hooks.find(type="readiness", status="failed")
            assert "cancelled the consumer" in failed["reason"]
            # The consumer declares the queue again and goes on.
            wait_until(
                lambda: hooks.find(type="readiness", status="succeeded"), 30, "ready again", lambda: c.output
            )
            ids = mq.publish([{}] * 3, queue)
            record.wait_done(ids, 20, lambda: c.output)
            assert not hooks.find(type="liveness")
