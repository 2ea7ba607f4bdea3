import json
import logging
import os

import pytest

from supervisor import protocol


def test_encode_starts_with_version_and_ends_with_newline():
    line = protocol.encode({"pid": 1, "state": "ready"})
    assert line.endswith(b"\n")
    assert line.startswith(b'{"v":1,')
    assert json.loads(line) == {"v": 1, "pid": 1, "state": "ready"}


def test_encode_refuses_lines_that_would_not_be_atomic():
    with pytest.raises(protocol.LineTooLong):
        protocol.encode({"blob": "x" * protocol.MAX_LINE})


def test_reader_joins_partial_lines():
    reader = protocol.LineReader("test")
    line = protocol.encode({"seq": 7})
    assert reader.feed(line[:5]) == []
    assert reader.feed(line[5:-1]) == []
    assert reader.feed(line[-1:] + protocol.encode({"seq": 8})) == [
        {"v": 1, "seq": 7},
        {"v": 1, "seq": 8},
    ]


def test_reader_skips_malformed_lines_and_keeps_going(caplog):
    reader = protocol.LineReader("test")
    with caplog.at_level(logging.WARNING, "hurricane.supervisor"):
        got = reader.feed(b"not json\n[1, 2]\n{}\n" + protocol.encode({"seq": 1}))
    assert got == [{"v": 1, "seq": 1}]
    assert len(caplog.records) == 3
    assert "malformed" in caplog.records[0].getMessage()


def test_reader_drops_oversize_line_even_when_it_arrives_in_pieces(caplog):
    reader = protocol.LineReader("test", limit=64)
    with caplog.at_level(logging.WARNING, "hurricane.supervisor"):
        assert reader.feed(b'{"v":1,"junk":"' + b"x" * 100) == []
        assert reader.feed(b"x" * 100 + b'"}\n') == []
    assert "longer than 64" in caplog.records[0].getMessage()
    assert reader.feed(protocol.encode({"seq": 2})) == [{"v": 1, "seq": 2}]


def test_reader_drops_oversize_line_that_arrives_whole():
    reader = protocol.LineReader("test", limit=32)
    data = b'{"v":1,"junk":"' + b"x" * 40 + b'"}\n' + protocol.encode({"ok": 1})
    assert reader.feed(data) == [{"v": 1, "ok": 1}]


def test_write_line_drops_instead_of_blocking_on_a_full_pipe():
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    line = protocol.encode({"pad": "x" * 3000})
    try:
        written = 0
        while protocol.write_line(write_end, line):
            written += 1
            assert written < 10_000
        # Every line that went in is whole: atomic writes never leave half a line.
        reader = protocol.LineReader("test")
        got = []
        os.set_blocking(read_end, False)
        while True:
            try:
                chunk = os.read(read_end, 65536)
            except BlockingIOError:
                break
            got += reader.feed(chunk)
        assert len(got) == written
    finally:
        os.close(read_end)
        os.close(write_end)


def test_write_line_raises_when_the_reader_is_gone():
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with pytest.raises(BrokenPipeError):
            protocol.write_line(write_end, protocol.encode({}))
    finally:
        os.close(write_end)


def test_snapshot_writer_finishes_a_partial_line_and_keeps_only_the_latest():
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    os.set_blocking(read_end, False)
    writer = protocol.SnapshotWriter(write_end)
    big = protocol.encode({"n": 0, "pad": "x" * 200_000}, limit=1 << 20)
    try:
        writer.send(big)  # larger than the pipe: part of it waits
        for n in range(1, 5):
            writer.send(protocol.encode({"n": n}))
        reader = protocol.LineReader("test", limit=1 << 20)
        got = []
        for _ in range(100):
            try:
                got += reader.feed(os.read(read_end, 1 << 20))
            except BlockingIOError:
                pass
            writer.flush()
            if got and got[-1]["n"] == 4:
                break
        assert [m["n"] for m in got] == [0, 4]
    finally:
        os.close(read_end)
        os.close(write_end)


def test_exit_codes_do_not_collide_with_djangos_reloader():
    assert 3 not in {protocol.EXIT_BOOT_ERROR, protocol.EXIT_PARENT_GONE, protocol.EXIT_USAGE}
