"""Lines on pipes: atomic non-blocking writes, incremental reads that skip what is malformed."""

import json
import logging
import os

import pytest

from supervisor import pipes


def line(**fields) -> bytes:
    return json.dumps({"v": 1, **fields}).encode() + b"\n"


def test_reader_joins_partial_lines():
    reader = pipes.LineReader("test")
    first = line(seq=7)
    assert reader.feed(first[:5]) == []
    assert reader.feed(first[5:-1]) == []
    assert reader.feed(first[-1:] + line(seq=8)) == [{"v": 1, "seq": 7}, {"v": 1, "seq": 8}]


def test_reader_skips_malformed_lines_and_keeps_going(caplog):
    reader = pipes.LineReader("test")
    with caplog.at_level(logging.WARNING, "hurricane.supervisor"):
        got = reader.feed(b"not json\n[1, 2]\n{}\n" + line(seq=1))
    assert got == [{"v": 1, "seq": 1}]
    assert len(caplog.records) == 3
    assert "malformed" in caplog.records[0].getMessage()


def test_reader_drops_oversize_line_even_when_it_arrives_in_pieces(caplog):
    reader = pipes.LineReader("test", limit=64)
    with caplog.at_level(logging.WARNING, "hurricane.supervisor"):
        assert reader.feed(b'{"v":1,"junk":"' + b"x" * 100) == []
        assert reader.feed(b"x" * 100 + b'"}\n') == []
    assert "longer than 64" in caplog.records[0].getMessage()
    assert reader.feed(line(seq=2)) == [{"v": 1, "seq": 2}]


def test_reader_drops_oversize_line_that_arrives_whole():
    reader = pipes.LineReader("test", limit=32)
    data = b'{"v":1,"junk":"' + b"x" * 40 + b'"}\n' + line(ok=1)
    assert reader.feed(data) == [{"v": 1, "ok": 1}]


def test_write_line_drops_instead_of_blocking_on_a_full_pipe():
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    padded = line(pad="x" * 3000)
    try:
        written = 0
        while pipes.write_line(write_end, padded):
            written += 1
            assert written < 10_000
        # Every line that went in is whole: atomic writes never leave half a line.
        reader = pipes.PipeReader(read_end, "test")
        assert len(reader.read_all()) == written
        assert not reader.eof  # the writer is still open
    finally:
        os.close(read_end)
        os.close(write_end)


def test_pipe_reader_sees_the_end_once_the_writer_is_gone():
    read_end, write_end = os.pipe()
    reader = pipes.PipeReader(read_end, "test")
    try:
        assert reader.read() == []
        os.write(write_end, line(seq=1) + line(seq=2)[:4])
        os.close(write_end)
        assert reader.read_all() == [{"v": 1, "seq": 1}]  # the half line is dropped with the writer
        assert reader.eof
    finally:
        os.close(read_end)


def test_write_line_raises_when_the_reader_is_gone():
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with pytest.raises(BrokenPipeError):
            pipes.write_line(write_end, line())
    finally:
        os.close(write_end)


def test_latest_line_writer_finishes_a_partial_line_and_keeps_only_the_latest():
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    writer = pipes.LatestLineWriter(write_end)
    reader = pipes.PipeReader(read_end, "test", limit=1 << 20)
    try:
        writer.send(line(n=0, pad="x" * 200_000))  # larger than the pipe: part of it waits
        for n in range(1, 5):
            writer.send(line(n=n))
        got = []
        for _ in range(100):
            got += reader.read()
            writer.flush()
            if got and got[-1]["n"] == 4:
                break
        assert [m["n"] for m in got] == [0, 4]
    finally:
        os.close(read_end)
        os.close(write_end)
