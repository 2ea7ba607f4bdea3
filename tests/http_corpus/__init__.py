"""Raw HTTP/1.1 requests, valid and invalid, each with the verdict Hurricane must reach.

Written for this project (informed by the cases h11, llhttp and gunicorn test, not
copied from them). tests/unit/test_http_corpus.py runs every case through our
connection and through h11, and requires a stated reason wherever the two differ.
"""

from tests.http_corpus import chunked, fields, framing, request_line, valid
from tests.http_corpus.case import Case

CASES: list[Case] = [*valid.CASES, *request_line.CASES, *fields.CASES, *framing.CASES, *chunked.CASES]
