"""Header field lines and Host."""

from tests.http_corpus.case import BARE_LF, CONTROL_IN_VALUE, HOST_VALUE, LIMITS, OBS_FOLD, Case, wire

H = "Host: example.com"
GET = "GET / HTTP/1.1"

# One case a line: the list reads as a table.
# fmt: off
CASES = [
    # Field lines
    Case("field-no-colon", wire(GET, H, "X-A v"), 400),
    Case("field-empty-name", wire(GET, H, ": v"), 400),
    Case("field-space-before-colon", wire(GET, H, "X-A : v"), 400),
    Case("field-tab-before-colon", wire(GET, H, "X-A\t: v"), 400),
    Case("field-space-in-name", wire(GET, H, "X A: v"), 400),
    Case("field-separator-in-name", wire(GET, H, "X(A): v"), 400),
    Case("field-at-in-name", wire(GET, H, "X@A: v"), 400),
    Case("field-utf8-name", wire(GET, H, "X-\xc3\xa4: v"), 400),
    Case("field-nul-in-name", wire(GET, H, "X\x00A: v"), 400),
    Case("field-nul-in-value", wire(GET, H, "X-A: a\x00b"), 400),
    Case("field-ctl-01-in-value", wire(GET, H, "X-A: a\x01b"), 400, h11=CONTROL_IN_VALUE),
    Case("field-ctl-08-in-value", wire(GET, H, "X-A: a\x08b"), 400, h11=CONTROL_IN_VALUE),
    Case("field-vt-in-value", wire(GET, H, "X-A: a\x0bb"), 400),
    Case("field-ff-in-value", wire(GET, H, "X-A: a\x0cb"), 400),
    Case("field-ctl-1f-in-value", wire(GET, H, "X-A: a\x1fb"), 400, h11=CONTROL_IN_VALUE),
    Case("field-del-in-value", wire(GET, H, "X-A: a\x7fb"), 400, h11=CONTROL_IN_VALUE),
    Case("field-esc-value", wire(GET, H, "X-A: \x1b[31m"), 400, h11=CONTROL_IN_VALUE),
    Case("field-bare-cr-in-value", wire(GET, H, "X-A: a\rb"), 400),
    Case("field-bare-cr-at-end", wire(GET, H, "X-A: a\r"), 400),
    Case("field-bare-lf-end", b"GET / HTTP/1.1\r\nHost: example.com\nX-A: v\r\n\r\n", 400, h11=BARE_LF),
    Case("field-bare-lf-last", b"GET / HTTP/1.1\r\nHost: example.com\n\r\n", 400, h11=BARE_LF),
    Case("field-bare-lf-blank", b"GET / HTTP/1.1\r\nHost: example.com\r\n\n", 400, h11=BARE_LF),
    Case("field-bare-lf-in-value", b"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\nb\r\n\r\n", 400),
    Case("obs-fold-space", wire(GET, H, "X-A: a", " b"), 400, h11=OBS_FOLD),
    Case("obs-fold-tab", wire(GET, H, "X-A: a", "\tb"), 400, h11=OBS_FOLD),
    Case("obs-fold-empty-first", wire(GET, H, "X-A:", "  b"), 400, h11=OBS_FOLD),
    Case("whitespace-before-first-field", wire(GET, " Host: example.com"), 400),
    Case("whitespace-line-before-fields", wire(GET, " ", H), 400),
    Case("junk-line-between-fields", wire(GET, H, "\x00\x01junk", "X-A: v"), 400),
    Case("junk-word-between-fields", wire(GET, H, "junk", "X-A: v"), 400),
    Case("junk-after-head", wire(GET, H) + b"\x00\x01", "ok", rest=b"\x00\x01"),
    Case("fields-101", wire(GET, H, *(f"X-{i}: {i}" for i in range(100))), 431, h11=LIMITS),
    Case("head-over-64k", wire(GET, H, *(f"X-{i}: {'v' * 1000}" for i in range(70))), 431, h11=LIMITS),
    Case("head-over-16k", wire(GET, H, *(f"X-{i}: {'v' * 1000}" for i in range(20))), "ok"),
    # Host (RFC 9112 3.2)
    Case("host-missing", wire(GET, "X-A: v"), 400),
    Case("host-missing-no-fields", wire(GET), 400),
    Case("host-twice", wire(GET, H, H), 400),
    Case("host-twice-different", wire(GET, H, "Host: evil.example"), 400),
    Case("host-twice-case", wire(GET, H, "host: example.com"), 400),
    Case("host-twice-http10", wire("GET / HTTP/1.0", H, H), 400),
    Case("host-twice-one-empty", wire(GET, H, "Host:"), 400),
    Case("host-space-in-name", wire(GET, "Host : example.com"), 400),
    Case("host-inner-space", wire(GET, "Host: example .com"), 400, h11=HOST_VALUE),
    Case("host-two-values", wire(GET, "Host: a.example b.example"), 400, h11=HOST_VALUE),
    Case("host-userinfo", wire(GET, "Host: user@example.com"), 400, h11=HOST_VALUE),
    Case("host-path", wire(GET, "Host: example.com/admin"), 400, h11=HOST_VALUE),
    Case("host-query", wire(GET, "Host: example.com?x"), 400, h11=HOST_VALUE),
    Case("host-unclosed-ipv6", wire(GET, "Host: [::1"), 400, h11=HOST_VALUE),
    Case("host-bad-port", wire(GET, "Host: example.com:http"), 400, h11=HOST_VALUE),
    Case("host-two-ports", wire(GET, "Host: example.com:80:80"), 400, h11=HOST_VALUE),
    Case("host-quote", wire(GET, 'Host: "example.com"'), 400, h11=HOST_VALUE),
    Case("host-ctl", wire(GET, "Host: exa\x01mple.com"), 400, h11=CONTROL_IN_VALUE),
    Case("host-obs-text", wire(GET, "Host: b\xfccher.example"), 400, h11=HOST_VALUE),
    Case("host-folded", wire(GET, "Host: example.com", " evil.example"), 400, h11=OBS_FOLD),
]
# fmt: on
