"""One raw request and what Hurricane must make of it; the reasons we differ from h11."""

from __future__ import annotations

from dataclasses import dataclass

OK = "ok"  # a complete request: handed to the application
WAIT = "wait"  # incomplete so far: the connection waits for more
Verdict = str | int  # OK, WAIT, or the status of the refusal


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    verdict: Verdict
    body: bytes = b""  # the body the application gets, when OK
    rest: bytes = b""  # what is left for the next request, when OK
    h11: str = ""  # why h11 decides otherwise: one of the reasons below; empty when it agrees


def wire(line: str, *fields: str, body: bytes | str = b"") -> bytes:
    """A request head of ``line`` and ``fields`` (latin-1, CRLF line ends), then ``body``."""
    head = "".join(part + "\r\n" for part in (line, *fields)) + "\r\n"
    return head.encode("latin-1") + (body.encode("latin-1") if isinstance(body, str) else body)


def chunked(line: str, *fields: str, body: str) -> bytes:
    """A request with ``Transfer-Encoding: chunked`` after ``fields`` and the raw ``body``."""
    return wire(line, *fields, "Transfer-Encoding: chunked", body=body)


# Every place where h11 0.16 decides differently from us, and why we keep our answer.
# test_http_corpus.py fails when a case differs without a reason, or has a reason and
# no longer differs.

BARE_LF = (
    "h11 takes a lone LF as a line end (RFC 9112 2.2 lets a recipient do that); we refuse it at "
    "once: a proxy in front that does not would see other lines than we do, the first step of "
    "request smuggling, and no real client sends bare LF"
)
LEADING_CRLF = (
    "h11 refuses empty lines before the request line; RFC 9112 2.2 says a server SHOULD ignore "
    "at least one (clients add them after a POST body), so we skip them"
)
VERSION = (
    "h11 parses any HTTP/d.d and leaves the version to the server; we answer 505 to anything "
    "but HTTP/1.0 and HTTP/1.1 as soon as the request line is complete"
)
OBS_TEXT_TARGET = (
    "h11 allows only visible ASCII in the target; we also take bytes 0x80-0xFF (raw UTF-8 from "
    "curl and scripts, which Django decodes): they cannot move where the target ends"
)
CONTROL_IN_VALUE = (
    "h11 allows control bytes other than NUL and whitespace in field values; RFC 9110 5.5 "
    "excludes every CTL but HTAB, and we refuse them"
)
OBS_FOLD = (
    "h11 unfolds obsolete line folding; RFC 9112 5.2 lets a server refuse it with 400, and we "
    "do, so a folded Transfer-Encoding or Content-Length cannot mean two things"
)
HOST_VALUE = (
    "h11 checks only that Host is present once; RFC 9112 3.2 also requires 400 for an invalid "
    "Host value (whitespace, userinfo, a path, a broken IP literal)"
)
DUPLICATE_LENGTH = (
    "h11 merges Content-Length values that repeat the same number; RFC 9110 8.6 lets us refuse "
    "them, and we do, since a proxy may read the list differently"
)
CL_AND_TE = (
    "h11 lets Transfer-Encoding override Content-Length; RFC 9112 6.1 lets a server refuse the "
    "pair, and we do: it is the classic smuggling request"
)
TE_STATUS = (
    "h11 answers 501 to every Transfer-Encoding but a lone chunked; RFC 9112 6.3 requires 400 "
    "when chunked is not the final coding, and we also answer 400 to chunked twice and to a "
    "field that is not a plain list of coding names, keeping 501 for a coding before chunked"
)
TE_HTTP10 = (
    "h11 accepts Transfer-Encoding in HTTP/1.0; RFC 9112 6.1 says its framing is faulty, so we refuse it"
)
LENGTH_DIGITS = (
    "h11 takes Content-Length up to 20 digits and waits for the body; we refuse more than 18 "
    "digits with 400 (no body is that large) and a length over --max-body-size with 413 at once"
)
BODY_LIMIT = "h11 has no body size limit and waits for the body; we answer 413 when the size is announced"
LIMITS = (
    "h11 limits only a head that is still incomplete (16 KiB) and nothing else; ours are an "
    "8 KiB request line (414), 100 fields and a 64 KiB head (431), a 1 KiB chunk-size line "
    "(400) and an 8 KiB trailer section (431)"
)
EARLY = (
    "h11 judges a request line only once the whole head is in; we refuse a complete bad "
    "request line at once rather than wait for a blank line that may never come"
)
CHUNK_SIZE = (
    "h11 takes up to 20 hex digits and whitespace after a chunk size; we take 16 digits (2^64, "
    "where C parsers overflow) and no whitespace, which RFC 9112 7.1 does not allow"
)
CHUNK_EXT = (
    "h11 accepts anything after the ';' of a chunk extension; we parse it as RFC 9112 7.1.1 "
    "defines it (names, tokens, quoted strings), so control bytes and bare CR are refused"
)
CHUNK_EXT_BWS = (
    "h11 refuses whitespace before a chunk extension's ';'; RFC 9112 7.1.1 allows it (BWS), so we do"
)
