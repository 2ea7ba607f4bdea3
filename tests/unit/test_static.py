import pytest

from hurricane.worker.static import byte_range, not_modified

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=900-", (900, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=1000-", "unsatisfiable"),
        ("bytes=50-10", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file is a valid answer
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_byte_range(header, expected):
    assert byte_range(header, SIZE) == expected


def test_not_modified():
    etag = '"abc-10"'
    assert not_modified({"HTTP_IF_NONE_MATCH": etag}, etag, 100.0)
    assert not_modified({"HTTP_IF_NONE_MATCH": f'"x", W/{etag}'}, etag, 100.0)
    assert not_modified({"HTTP_IF_NONE_MATCH": "*"}, etag, 100.0)
    assert not not_modified({"HTTP_IF_NONE_MATCH": '"other"'}, etag, 100.0)
    # If-None-Match decides alone when present.
    since = "Thu, 01 Jan 1970 00:03:20 GMT"  # 200 s
    assert not not_modified({"HTTP_IF_NONE_MATCH": '"other"', "HTTP_IF_MODIFIED_SINCE": since}, etag, 100.0)
    assert not_modified({"HTTP_IF_MODIFIED_SINCE": since}, etag, 100.0)
    assert not not_modified({"HTTP_IF_MODIFIED_SINCE": since}, etag, 300.0)
    assert not not_modified({"HTTP_IF_MODIFIED_SINCE": "yesterday"}, etag, 100.0)
    assert not not_modified({}, etag, 100.0)
