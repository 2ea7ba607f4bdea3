"""Where a request ends: Content-Length, Transfer-Encoding, and the smuggling classics."""

from tests.http_corpus.case import (
    BARE_LF,
    BODY_LIMIT,
    CL_AND_TE,
    DUPLICATE_LENGTH,
    LENGTH_DIGITS,
    OBS_FOLD,
    OK,
    TE_HTTP10,
    TE_STATUS,
    Case,
    wire,
)

H = "Host: example.com"
POST = "POST / HTTP/1.1"
END = "0\r\n\r\n"


def te(value: str, body: str = END) -> bytes:
    return wire(POST, H, f"Transfer-Encoding: {value}", body=body)


def cl(value: str, body: str = "hello") -> bytes:
    return wire(POST, H, f"Content-Length: {value}", body=body)


# One case a line: the list reads as a table.
# fmt: off
CASES = [
    # Content-Length
    Case("length-plus", cl("+5"), 400),
    Case("length-minus", cl("-5"), 400),
    Case("length-minus-one", cl("-1"), 400),
    Case("length-two-numbers", cl("5 5"), 400),
    Case("length-list-same", cl("5,5"), 400, h11=DUPLICATE_LENGTH),
    Case("length-list-same-ows", cl("5, 5"), 400, h11=DUPLICATE_LENGTH),
    Case("length-list-different", cl("5, 6"), 400),
    Case("length-twice-same", wire(POST, H, "Content-Length: 5", "Content-Length: 5", body="hello"), 400, h11=DUPLICATE_LENGTH),
    Case("length-twice-different", wire(POST, H, "Content-Length: 5", "Content-Length: 6", body="hello"), 400),
    Case("length-twice-one-empty", wire(POST, H, "Content-Length: 5", "Content-Length:", body="hello"), 400),
    Case("length-empty", cl(""), 400),
    Case("length-hex", cl("0x5"), 400),
    Case("length-decimal-point", cl("5.0"), 400),
    Case("length-exponent", cl("5e0"), 400),
    Case("length-underscore", cl("0_5"), 400),
    Case("length-letters", cl("five"), 400),
    Case("length-unicode-digit", cl("\xd9\xa5"), 400),
    Case("length-superscript", cl("\xb2"), 400),
    Case("length-vt", cl("5\x0b"), 400),
    Case("length-nul", cl("5\x00"), 400),
    Case("length-quoted", cl('"5"'), 400),
    Case("length-folded", wire(POST, H, "Content-Length: 5", " 0", body="hello"), 400),
    Case("length-18-digits", cl("9" * 18), 413, h11=BODY_LIMIT),
    Case("length-19-digits", cl("9" * 19), 400, h11=LENGTH_DIGITS),
    Case("length-20-digits", cl("1" + "0" * 19), 400, h11=LENGTH_DIGITS),
    Case("length-over-limit", cl("1025"), 413, h11=BODY_LIMIT),
    Case("length-at-limit", cl("1024", "x" * 1024), OK, body=b"x" * 1024),
    # Transfer-Encoding
    Case("te-gzip", te("gzip"), 400, h11=TE_STATUS),
    Case("te-identity", te("identity"), 400, h11=TE_STATUS),
    Case("te-gzip-chunked", te("gzip, chunked"), 501),
    Case("te-identity-chunked", te("identity, chunked"), 501),
    Case("te-chunked-gzip", te("chunked, gzip"), 400, h11=TE_STATUS),
    Case("te-chunked-chunked", te("chunked, chunked"), 400, h11=TE_STATUS),
    Case("te-chunked-twice-fields", wire(POST, H, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked", body=END), 400, h11=TE_STATUS),
    Case("te-two-fields", wire(POST, H, "Transfer-Encoding: gzip", "Transfer-Encoding: chunked", body=END), 501),
    Case("te-two-fields-chunked-first", wire(POST, H, "Transfer-Encoding: chunked", "Transfer-Encoding: gzip", body=END), 400, h11=TE_STATUS),
    Case("te-empty", te(""), 400, h11=TE_STATUS),
    Case("te-comma-only", te(","), 400, h11=TE_STATUS),
    Case("te-leading-comma", te(", chunked"), 400, h11=TE_STATUS),
    Case("te-trailing-comma", te("chunked,"), 400, h11=TE_STATUS),
    Case("te-parameter", te("chunked;q=1"), 400, h11=TE_STATUS),
    Case("te-parameter-before", te("gzip;level=1, chunked"), 400, h11=TE_STATUS),
    Case("te-quoted", te('"chunked"'), 400, h11=TE_STATUS),
    Case("te-prefix", te("xchunked"), 400, h11=TE_STATUS),
    Case("te-suffix", te("chunkedx"), 400, h11=TE_STATUS),
    Case("te-truncated", te("chunk"), 400, h11=TE_STATUS),
    Case("te-nbsp", te("\xa0chunked"), 400, h11=TE_STATUS),
    Case("te-vt", te("\x0bchunked"), 400),
    Case("te-ff-after", te("chunked\x0c"), 400),
    Case("te-nul-after", te("chunked\x00"), 400),
    Case("te-space-before-colon", wire(POST, H, "Transfer-Encoding : chunked", body=END), 400),
    Case("te-tab-before-colon", wire(POST, H, "Transfer-Encoding\t: chunked", body=END), 400),
    Case("te-leading-space-name", wire(POST, " Transfer-Encoding: chunked", H, body=END), 400),
    Case("te-folded-into-field", wire(POST, H, "X-A: a", " Transfer-Encoding: chunked", body=END), 400, h11=OBS_FOLD),
    Case("te-folded-value", wire(POST, H, "Transfer-Encoding:", " chunked", body=END), 400, h11=OBS_FOLD),
    Case("te-name-on-own-line", wire(POST, H, "Transfer-Encoding", ": chunked", body=END), 400),
    Case("te-underscore-name", wire(POST, H, "Transfer_Encoding: chunked", body=END), OK, rest=END.encode()),
    Case("te-http10", wire("POST / HTTP/1.0", "Transfer-Encoding: chunked", body=END), 400, h11=TE_HTTP10),
    # The smuggling classics: a proxy and this server must never disagree on where a request ends.
    Case("cl-te", wire(POST, H, "Content-Length: 6", "Transfer-Encoding: chunked", body="0\r\n\r\nG"), 400, h11=CL_AND_TE),
    Case("te-cl", wire(POST, H, "Transfer-Encoding: chunked", "Content-Length: 3", body="8\r\nSMUGGLED\r\n0\r\n\r\n"), 400, h11=CL_AND_TE),
    Case("cl-zero-te", wire(POST, H, "Content-Length: 0", "Transfer-Encoding: chunked", body=END), 400, h11=CL_AND_TE),
    Case("te-te-obfuscated", wire(POST, H, "Transfer-Encoding: chunked", "Transfer-encoding: x", body=END), 400, h11=TE_STATUS),
    Case("cl-te-obfuscated", wire(POST, H, "Content-Length: 4", "Transfer-Encoding: xchunked", body="5c\r\n"), 400, h11=TE_STATUS),
    Case("cl-te-space-before-colon", wire(POST, H, "Content-Length: 4", "Transfer-Encoding : chunked", body=END), 400),
    Case("cl-te-bare-lf-hidden", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nX: y\nTransfer-Encoding: chunked\r\n\r\n" + END.encode(), 400, h11=BARE_LF),
    Case("te-bare-lf-hidden", b"POST / HTTP/1.1\r\nHost: example.com\r\nX: y\nTransfer-Encoding: chunked\r\n\r\n" + END.encode(), 400, h11=BARE_LF),
    Case("cl-bare-cr-hidden", b"POST / HTTP/1.1\r\nHost: example.com\r\nX: y\rContent-Length: 5\r\n\r\nhello", 400),
    Case("cl-cl-smuggle", wire(POST, H, "Content-Length: 0", "Content-Length: 44", body="GET /admin HTTP/1.1\r\n"), 400),
    Case("cl-zero-smuggle", wire("GET / HTTP/1.1", H, "Content-Length: 23", body="GET /admin HTTP/1.1\r\n\r\n"), OK, b"GET /admin HTTP/1.1\r\n\r\n"),
    Case("cl-folded-te", wire(POST, H, "Content-Length: 5", "X-A: b", "\tTransfer-Encoding: chunked", body="hello"), 400, h11=OBS_FOLD),
    Case("te-in-request-line-slot", wire("POST / HTTP/1.1 Transfer-Encoding: chunked", H, body=END), 400),
    Case("cl-http10-te", wire("POST / HTTP/1.0", "Content-Length: 5", "Transfer-Encoding: chunked", body="hello"), 400, h11=CL_AND_TE),
]
# fmt: on
