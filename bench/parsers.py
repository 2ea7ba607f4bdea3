"""Compare the worker's request head parser with httptools (llhttp) and h11: speed and strictness.

    python bench/parsers.py [--seconds 1.0]

Speed: each parser reads the same realistic heads (a probe, curl, a browser page
load, a JSON API call, a request through a proxy) into what the worker needs:
method, target, version, the header list and the body's framing. httptools and h11
keep one parser per connection and are fed one head per request, as on a
keep-alive connection; h11 must also be told the response was sent. The figure is
the fastest of five runs, in microseconds per request (the machine is shared:
the fastest run is the one least disturbed).

Strictness: every case of tests/http_corpus/ through httptools, listing the
requests it accepts that we refuse and the other way round (test_http_corpus.py
does the same for h11, as a test). Not part of the tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hurricane.worker.request import HeadReader, RequestHead

HEADS = {
    "probe": b"GET /ready HTTP/1.1\r\nHost: 10.0.0.7:8001\r\nUser-Agent: kube-probe/1.30\r\nAccept: */*\r\n\r\n",
    "curl": b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    "browser": b"GET /articles/2024/?page=2 HTTP/1.1\r\nHost: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Referer: https://www.example.com/articles/\r\nConnection: keep-alive\r\n"
    b"Cookie: sessionid=4f1c2e0b9d8a7c6b5a4f3e2d1c0b9a8f; csrftoken=Zx8yW7vU6tS5rQ4pO3nM2lK1jI0hG9fE\r\n"
    b"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n"
    b"Sec-Fetch-Site: same-origin\r\nSec-Fetch-User: ?1\r\nPriority: u=0, i\r\n\r\n",
    "api-post": b"POST /api/v1/orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n"
    b"Content-Length: 0\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl\r\n"
    b"Accept: application/json\r\nUser-Agent: python-requests/2.32.3\r\nAccept-Encoding: gzip, deflate\r\n\r\n",
    "proxied": b"GET /static/app.css HTTP/1.1\r\nHost: shop.example.com\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.2\r\n"
    b"X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example.com\r\nX-Request-ID: 7d3f0c9e-2b1a\r\n"
    b'Accept: text/css,*/*;q=0.1\r\nAccept-Encoding: gzip, br\r\nIf-None-Match: W/"5e-1a2b3c"\r\n'
    b"User-Agent: Mozilla/5.0\r\n\r\n",
}


def ours() -> Callable[[bytes], object]:
    reader = HeadReader()

    def parse(head: bytes) -> RequestHead:
        found = reader.read(bytearray(head))  # the worker's buffer is a bytearray
        assert found is not None
        return found[0]

    return parse


def with_httptools() -> Callable[[bytes], object]:
    import httptools

    class Collect:
        def __init__(self) -> None:
            self.url = b""
            self.headers: list[tuple[bytes, bytes]] = []

        def on_url(self, url: bytes) -> None:
            self.url = url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name, value))

    collect = Collect()
    parser = httptools.HttpRequestParser(collect)

    def parse(head: bytes) -> object:
        collect.headers = []
        parser.feed_data(head)
        return parser.get_method(), collect.url, parser.get_http_version(), collect.headers

    return parse


def with_h11() -> Callable[[bytes], object]:
    import h11

    conn = h11.Connection(h11.SERVER)
    response = h11.Response(status_code=200, headers=[("Content-Length", "0")])

    def parse(head: bytes) -> object:
        conn.receive_data(head)
        request = conn.next_event()
        conn.next_event()  # EndOfMessage
        conn.send(response)
        conn.send(h11.EndOfMessage())
        conn.start_next_cycle()
        return request

    return parse


def per_request(make: Callable[[], Callable[[bytes], object]], head: bytes, seconds: float) -> float:
    """Microseconds per request: the fastest of five runs of about ``seconds`` / 5 each."""
    parse = make()
    runs = []
    for _ in range(5):
        n, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / 5:
            for _ in range(200):
                parse(head)
            n += 200
        runs.append(elapsed / n * 1e6)
    return min(runs)


def httptools_verdict(raw: bytes) -> str:
    """ "ok", "wait" or "refused", for the first request in ``raw``."""
    import httptools

    class Done:
        complete = False

        def on_message_complete(self) -> None:
            self.complete = True

    done = Done()
    parser = httptools.HttpRequestParser(done)
    try:
        parser.feed_data(raw)
    except httptools.HttpParserUpgrade:
        return "ok"  # CONNECT and Upgrade: the head was accepted
    except httptools.HttpParserError:
        return "ok" if done.complete else "refused"  # an error after the first request is not its own
    return "ok" if done.complete else "wait"


def strictness() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the corpus lives in tests/
    from tests.http_corpus import CASES
    from tests.http_corpus.case import OK, WAIT

    looser, stricter = [], []
    for case in CASES:
        ours = case.verdict if case.verdict in (OK, WAIT) else "refused"
        theirs = httptools_verdict(case.raw)
        if theirs == "ok" and ours == "refused":
            looser.append(f"{case.name} ({case.verdict})")
        elif theirs == "refused" and ours == OK:
            stricter.append(case.name)
    print(f"\nof {len(CASES)} corpus cases, httptools accepts {len(looser)} that Hurricane refuses:")
    print("  " + ", ".join(looser))
    print(f"and refuses {len(stricter)} that Hurricane accepts:")
    print("  " + ", ".join(stricter))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per parser and head")
    seconds = parser.parse_args().seconds
    parsers = {"hurricane": ours, "httptools": with_httptools, "h11": with_h11}
    print(f"{'head':<10}{'bytes':>6}{'fields':>7}" + "".join(f"{name:>12}" for name in parsers))
    for name, head in HEADS.items():
        times = [per_request(make, head, seconds) for make in parsers.values()]
        cells = "".join(f"{t:>10.2f}µs" for t in times)
        fields = head.count(b"\r\n") - 2
        print(f"{name:<10}{len(head):>6}{fields:>7}{cells}")
    strictness()


if __name__ == "__main__":
    main()
