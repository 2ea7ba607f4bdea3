"""Chunked bodies: sizes, extensions, the CRLF after data, trailers."""

from tests.http_corpus.case import (
    BARE_LF,
    BODY_LIMIT,
    CHUNK_EXT,
    CHUNK_EXT_BWS,
    CHUNK_SIZE,
    CONTROL_IN_VALUE,
    LIMITS,
    OBS_FOLD,
    OK,
    WAIT,
    Case,
    chunked,
)

H = "Host: example.com"
POST = "POST / HTTP/1.1"


def body(text: str) -> bytes:
    return chunked(POST, H, body=text)


# One case a line: the list reads as a table.
# fmt: off
CASES = [
    # Sizes
    Case("size-space-after", body("5 \r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_SIZE),
    Case("size-tab-after", body("5\t\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_SIZE),
    Case("size-space-before", body(" 5\r\nhello\r\n0\r\n\r\n"), 400),
    Case("size-hex-prefix", body("0x5\r\nhello\r\n0\r\n\r\n"), 400),
    Case("size-plus", body("+5\r\nhello\r\n0\r\n\r\n"), 400),
    Case("size-minus", body("-5\r\nhello\r\n0\r\n\r\n"), 400),
    Case("size-underscore", body("0_5\r\nhello\r\n0\r\n\r\n"), 400),
    Case("size-empty", body("\r\nhello\r\n0\r\n\r\n"), 400),
    Case("size-not-hex", body("g\r\nhello\r\n0\r\n\r\n"), 400),
    Case("size-16-digits", body("0000000000000005\r\nhello\r\n0\r\n\r\n"), OK, b"hello"),
    Case("size-17-digits", body("00000000000000005\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_SIZE),
    Case("size-overflow-wraps", body("10000000000000005\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_SIZE),
    Case("size-max-64-bit", body("ffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 413, h11=BODY_LIMIT),
    Case("size-over-limit", body("401\r\n"), 413, h11=BODY_LIMIT),
    Case("sizes-add-up-over-limit", body("200\r\n" + "x" * 512 + "\r\n201\r\n"), 413, h11=BODY_LIMIT),
    Case("size-bare-lf", body("5\nhello\r\n0\r\n\r\n"), 400),
    Case("size-bare-cr", body("5\rhello\r\n0\r\n\r\n"), 400),
    Case("size-line-too-long", body("1" + ";a=b" * 400 + "\r\n"), 400, h11=LIMITS),
    # The CRLF after a chunk's data
    Case("data-longer-than-size", body("3\r\nhello\r\n0\r\n\r\n"), 400),
    Case("data-shorter-than-size", body("8\r\nhello\r\n0\r\n\r\n"), 400),
    Case("data-not-all-sent", body("8\r\nhello"), WAIT),
    Case("data-bare-lf-after", body("5\r\nhello\n0\r\n\r\n"), 400),
    Case("data-bare-cr-after", body("5\r\nhello\r0\r\n\r\n"), 400),
    Case("data-no-crlf-after", body("5\r\nhello0\r\n\r\n"), 400),
    Case("data-space-then-crlf", body("5\r\nhello \r\n0\r\n\r\n"), 400),
    # Extensions (RFC 9112 7.1.1)
    Case("ext-name", body("5;a\r\nhello\r\n0\r\n\r\n"), OK, b"hello"),
    Case("ext-name-value", body("5;a=b\r\nhello\r\n0\r\n\r\n"), OK, b"hello"),
    Case("ext-quoted", body('5;a="b c;d=e"\r\nhello\r\n0\r\n\r\n'), OK, b"hello"),
    Case("ext-quoted-escape", body('5;a="b\\"c"\r\nhello\r\n0\r\n\r\n'), OK, b"hello"),
    Case("ext-several", body("5;a=1;b;c=x\r\nhello\r\n0\r\n\r\n"), OK, b"hello"),
    Case("ext-on-last", body("5\r\nhello\r\n0;done=1\r\n\r\n"), OK, b"hello"),
    Case("ext-bws", body("5 ; a = b\r\nhello\r\n0\r\n\r\n"), OK, b"hello", h11=CHUNK_EXT_BWS),
    Case("ext-empty", body("5;\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    Case("ext-no-name", body("5;=b\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    Case("ext-empty-value", body("5;a=\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    Case("ext-space-in-value", body("5;a=b c\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    Case("ext-unclosed-quote", body('5;a="b\r\nhello\r\n0\r\n\r\n'), 400, h11=CHUNK_EXT),
    Case("ext-ctl", body("5;a=\x01\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    Case("ext-nul", body("5;a\x00\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    Case("ext-del", body("5;a=\x7f\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    Case("ext-bare-cr", body("5;a\rb\r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    Case("ext-bare-lf", body("5;a\nb\r\nhello\r\n0\r\n\r\n"), 400),
    Case("ext-trailing-space", body("5;a=b \r\nhello\r\n0\r\n\r\n"), 400, h11=CHUNK_EXT),
    # Trailers: checked like header fields, then dropped
    Case("trailer", body("5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"), OK, b"hello"),
    Case("trailers", body("0\r\nX-A: 1\r\nX-B: 2\r\n\r\n"), OK),
    Case("trailer-framing-name", body("0\r\nContent-Length: 5\r\n\r\n"), OK),
    Case("trailer-then-next", body("0\r\nX-A: 1\r\n\r\nGET /"), OK, rest=b"GET /"),
    Case("trailer-no-colon", body("0\r\nbad trailer\r\n\r\n"), 400),
    Case("trailer-space-before-colon", body("0\r\nX-A : 1\r\n\r\n"), 400),
    Case("trailer-nul", body("0\r\nX-A: \x00\r\n\r\n"), 400),
    Case("trailer-ctl", body("0\r\nX-A: \x01\r\n\r\n"), 400, h11=CONTROL_IN_VALUE),
    Case("trailer-bare-lf", body("0\r\nX-A: 1\n\r\n"), 400, h11=BARE_LF),
    Case("trailer-bare-lf-end", body("0\r\nX-A: 1\r\n\n"), 400, h11=BARE_LF),
    Case("trailer-folded", body("0\r\nX-A: 1\r\n 2\r\n\r\n"), 400, h11=OBS_FOLD),
    Case("trailer-incomplete", body("0\r\nX-A: 1\r\n"), WAIT),
    Case("trailer-too-large", body("0\r\n" + "".join(f"X-{i}: {'v' * 500}\r\n" for i in range(20)) + "\r\n"), 431, h11=LIMITS),
]
# fmt: on
