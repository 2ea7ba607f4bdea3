"""Request lines: methods, targets, versions, separators and line ends."""

from tests.http_corpus.case import BARE_LF, EARLY, LEADING_CRLF, LIMITS, VERSION, Case, wire

H = "Host: example.com"

CONTROLS = [*range(0x00, 0x20), 0x7F]

# One case a line: the list reads as a table.
# fmt: off
CASES = [
    # Every control byte, and DEL, inside a target.
    *(Case(f"target-ctl-{c:02x}", wire(f"GET /a{chr(c)}b HTTP/1.1", H), 400) for c in CONTROLS),
    Case("target-ctl-last", wire("GET /a\x01 HTTP/1.1", H), 400),
    Case("target-nul-first", wire("GET \x00/ HTTP/1.1", H), 400),
    Case("target-space", wire("GET /a b HTTP/1.1", H), 400),
    Case("target-empty", wire("GET  HTTP/1.1", H), 400),
    Case("method-empty", wire(" / HTTP/1.1", H), 400),
    Case("method-nul", wire("GET\x00 / HTTP/1.1", H), 400),
    Case("method-separator", wire("G@T / HTTP/1.1", H), 400),
    Case("method-slash", wire("GET/ / HTTP/1.1", H), 400),
    Case("method-utf8", wire("G\xc3\x8bT / HTTP/1.1", H), 400),
    Case("method-quote", wire('"GET" / HTTP/1.1', H), 400),
    Case("two-spaces-before-target", wire("GET  / HTTP/1.1", H), 400),
    Case("two-spaces-before-version", wire("GET /  HTTP/1.1", H), 400),
    Case("tab-separator", wire("GET\t/ HTTP/1.1", H), 400),
    Case("leading-space", wire(" GET / HTTP/1.1", H), 400),
    Case("trailing-space", wire("GET / HTTP/1.1 ", H), 400),
    Case("trailing-tab", wire("GET / HTTP/1.1\t", H), 400),
    Case("http09", wire("GET /", H), 400),
    Case("no-target", wire("GET HTTP/1.1", H), 400),
    Case("version-lowercase", wire("GET / http/1.1", H), 400),
    Case("version-https", wire("GET / HTTPS/1.1", H), 400),
    Case("version-no-minor", wire("GET / HTTP/1", H), 400),
    Case("version-two-digit-minor", wire("GET / HTTP/1.10", H), 400),
    Case("version-two-digit-major", wire("GET / HTTP/11.1", H), 400),
    Case("version-suffix", wire("GET / HTTP/1.1x", H), 400),
    Case("version-comma", wire("GET / HTTP/1,1", H), 400),
    Case("version-1-2", wire("GET / HTTP/1.2", H), 505, h11=VERSION),
    Case("version-1-9", wire("GET / HTTP/1.9", H), 505, h11=VERSION),
    Case("version-2-0", wire("GET / HTTP/2.0", H), 505, h11=VERSION),
    Case("version-3-0", wire("GET / HTTP/3.0", H), 505, h11=VERSION),
    Case("version-0-9", wire("GET / HTTP/0.9", H), 505, h11=VERSION),
    Case("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, h11=VERSION),
    Case("only-crlf-line", b"\r\n\r\n", "wait", h11=LEADING_CRLF),
    Case("bare-lf-request-line", b"GET / HTTP/1.1\nHost: example.com\r\n\r\n", 400, h11=BARE_LF),
    Case("bare-lf-everywhere", b"GET / HTTP/1.1\nHost: example.com\n\n", 400, h11=BARE_LF),
    Case("bare-lf-request-line-alone", b"GET / HTTP/1.1\n", 400, h11=BARE_LF),
    Case("bare-cr-request-line", b"GET / HTTP/1.1\rHost: example.com\r\n\r\n", 400),
    Case("cr-cr-lf", b"GET / HTTP/1.1\r\r\nHost: example.com\r\n\r\n", 400),
    Case("leading-bare-lf", b"\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 400),
    Case("tls-client-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32), 400),
    Case("ssh-banner", b"SSH-2.0-OpenSSH_9.6\r\n", 400, h11=EARLY),
    Case("junk-no-line-end", b"\x00\x01\x02\x03", 400),
    Case("request-line-too-long", wire("GET /" + "a" * 8200 + " HTTP/1.1", H), 414, h11=LIMITS),
    Case("request-line-too-long-incomplete", b"GET /" + b"a" * 9000, 414, h11=LIMITS),
]
# fmt: on
