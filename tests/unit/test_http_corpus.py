"""The request corpus (tests/http_corpus/) through our connection and through h11, side by side.

Our side is the real Connection on a fake transport, so the verdict includes the
head reader, the framing rules and the body decoder. A case where h11 decides
otherwise must say why (tests/http_corpus/case.py lists the reasons); a reason
that no longer applies fails too, so the list stays true.
"""

import asyncio
import io
from collections import Counter

import h11
import pytest

from hurricane.worker.connection import Connection, State
from supervisor.options import resolve
from tests.http_corpus import CASES
from tests.http_corpus.case import OK, WAIT, Case, Verdict
from tests.unit.test_connection import FakeTransport

OPTIONS = resolve({"max_body_size": "1KiB"})

Outcome = tuple[Verdict, bytes, bytes]  # verdict, body, what is left for the next request


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def expected(case: Case) -> Outcome:
    return (case.verdict, case.body, case.rest) if case.verdict == OK else (case.verdict, b"", b"")


def hurricane(loop: asyncio.AbstractEventLoop, raw: bytes, step: int) -> Outcome:
    """Feed ``raw`` in pieces of ``step`` bytes until the connection decides."""
    bodies: list[bytes] = []

    def handle(conn, head, body, size):
        with body or io.BytesIO() as file:
            bodies.append(file.read())

    conn = Connection(loop, OPTIONS, handle, set())
    transport = FakeTransport()
    conn.connection_made(transport)
    for start in range(0, len(raw), step):
        conn.data_received(raw[start : start + step])
        if bodies:
            return OK, bodies[0], bytes(conn.buffer) + raw[start + step :]
        if conn.state is State.LINGER:
            status = transport.written.rsplit(b"HTTP/1.1 ", 1)[1][:3]  # after any 100 Continue
            return int(status), b"", b""
    if conn.body is not None:
        conn.body.file.close()
    return WAIT, b"", b""


def with_h11(raw: bytes) -> Outcome:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    body = b""
    try:
        while (event := conn.next_event()) is not h11.NEED_DATA:
            if isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return OK, body, conn.trailing_data[0]
    except h11.RemoteProtocolError as exc:
        return exc.error_status_hint, b"", b""
    return WAIT, b"", b""


def test_the_corpus_is_large_and_every_name_is_unique():
    assert len(CASES) >= 200
    assert [name for name, n in Counter(c.name for c in CASES).items() if n > 1] == []
    verdicts = Counter("ok" if c.verdict == OK else "wait" if c.verdict == WAIT else "refused" for c in CASES)
    assert min(verdicts.values()) >= 10, verdicts


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hurricane_reaches_the_expected_verdict(loop, case):
    assert hurricane(loop, case.raw, len(case.raw)) == expected(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_verdict_is_the_same_when_the_bytes_arrive_one_by_one(loop, case):
    assert hurricane(loop, case.raw, 1) == expected(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_h11_agrees_or_the_difference_is_deliberate(case):
    theirs = with_h11(case.raw)
    if case.h11:
        assert theirs != expected(case), f"h11 now agrees ({theirs[0]}): drop the reason"
    else:
        assert theirs == expected(case), "h11 differs: fix the parser, or give the case a reason"
