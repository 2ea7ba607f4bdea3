"""Default logging of Hurricane's processes, text or JSON, and how it yields to a LOGGING config."""

import json
import logging
from contextlib import contextmanager

import pytest

from supervisor import logs
from supervisor.options import OptionError, resolve


@contextmanager
def bare_logging():
    """No handler anywhere, as in a fresh process; everything put back afterwards.

    Used inside the test body: pytest adds its own root handlers for each phase.
    """
    root, hurricane = logging.getLogger(), logging.getLogger("hurricane")
    saved = (root.handlers[:], hurricane.handlers[:], hurricane.level)
    root.handlers, hurricane.handlers = [], []
    hurricane.setLevel(logging.NOTSET)
    try:
        yield hurricane
    finally:
        root.handlers, hurricane.handlers = saved[0], saved[1]
        hurricane.setLevel(saved[2])


def test_json_lines_are_one_object_each_with_extra_fields(capsys):
    with bare_logging():
        logs.configure("INFO", "json")
        log = logging.getLogger("hurricane.access")
        log.info("%s %d", "GET /", 200, extra={"status": 200})
        log.debug("not at INFO")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("hurricane.worker").exception("failed")
    lines = capsys.readouterr().err.splitlines()
    first = json.loads(lines[0])
    assert first["message"] == "GET / 200" and first["status"] == 200
    assert first["logger"] == "hurricane.access" and first["level"] == "INFO"
    assert first["time"].endswith("+00:00") and isinstance(first["pid"], int)
    second = json.loads(lines[1])
    assert "ValueError: boom" in second["exc"]
    assert len(lines) == 2


def test_text_lines_name_logger_and_pid(capsys):
    with bare_logging():
        logs.configure("INFO", "text")
        logging.getLogger("hurricane.supervisor").info("listening")
    [line] = capsys.readouterr().err.splitlines()
    assert " INFO    hurricane.supervisor[" in line and line.endswith("]: listening")


def test_a_configured_root_handler_takes_over_and_keeps_a_chosen_level():
    with bare_logging() as hurricane:
        logging.getLogger().addHandler(logging.NullHandler())
        hurricane.setLevel(logging.WARNING)
        logs.configure("INFO", "json")
        assert hurricane.handlers == [] and hurricane.level == logging.WARNING
        hurricane.setLevel(logging.NOTSET)
        logs.configure("INFO", "json")
        assert hurricane.level == logging.INFO


def test_loggers_silenced_by_disable_existing_loggers_come_back():
    early = logging.getLogger("hurricane.early")
    early.disabled = True  # what dictConfig does to loggers it was not told about
    with bare_logging():
        logs.configure("INFO")
    assert not early.disabled


def test_log_format_and_log_probes_options():
    assert resolve({"log_format": "JSON"}).log_format == "json"
    with pytest.raises(
        OptionError, match='option --log-format: "xml" from the command line is not a log format'
    ):
        resolve({"log_format": "xml"})
    assert resolve({}, {"HURRICANE_LOG_PROBES": True}).log_probes
    assert not resolve({}).log_probes
