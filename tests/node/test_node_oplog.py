"""The operator's log: refusals summarized, JSON lines, and sd_notify on a real socket."""

from __future__ import annotations

import io
import json
import logging
import socket
from pathlib import Path

import pytest

from tagshare.node import systemd
from tagshare.node.oplog import JsonFormatter, RefusalLog, configure_logging


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeated_refusals_are_one_line_then_one_summary(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    refusals = RefusalLog(clock=clock, window=60)
    with caplog.at_level(logging.INFO, logger="tagshare.refusals"):
        for _ in range(38):
            refusals.refused("bad_signature", 401, "signature does not verify")
        refusals.refused("replayed", 409, "this message was received before")
        clock.now += 61
        refusals.flush(clock.now)
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "refused a request: bad_signature (HTTP 401): signature does not verify",
        "refused a request: replayed (HTTP 409): this message was received before",
        "refused 37 more requests (bad_signature) in the last minute",
    ]
    summary = caplog.records[-1]
    assert summary.__dict__["reason"] == "bad_signature" and summary.__dict__["count"] == 37


def test_a_refusal_after_the_window_is_news_again(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    refusals = RefusalLog(clock=clock, window=60)
    with caplog.at_level(logging.INFO, logger="tagshare.refusals"):
        refusals.refused("malformed", 400, "invalid JSON")
        clock.now += 120
        refusals.refused("malformed", 400, "invalid JSON")
        refusals.flush()  # at shutdown: nothing repeated, nothing to summarize
    assert [r.getMessage() for r in caplog.records] == [
        "refused a request: malformed (HTTP 400): invalid JSON"] * 2


def test_json_lines_carry_the_structured_fields() -> None:
    record = logging.LogRecord("tagshare.sync", logging.WARNING, __file__, 1,
                               "delivery to %s failed: %s", ("rivera", "unreachable"), None)
    record.__dict__.update(peer="rivera", reason="unreachable")
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "delivery to rivera failed: unreachable"
    assert (line["level"], line["logger"], line["peer"], line["reason"]) == (
        "warning", "tagshare.sync", "rivera", "unreachable")
    assert line["time"].endswith("Z")


def test_configure_logging_writes_json_to_the_given_stream() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("json", "warning", stream)
        logging.getLogger("tagshare.sync").info("not shown at warning")
        logging.getLogger("tagshare.serve").info("lifecycle lines always show")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("tagshare.serve").setLevel(logging.NOTSET)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == "lifecycle lines always show"


def test_notify_sends_to_a_real_datagram_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(address)
        assert systemd.notify("READY=1", {"NOTIFY_SOCKET": address})
        assert receiver.recv(100) == b"READY=1"


def test_notify_reaches_an_abstract_socket_and_is_silent_without_one() -> None:
    name = f"tagshare-test-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        assert systemd.notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        assert receiver.recv(100) == b"STOPPING=1"
    assert not systemd.notify("READY=1", {})
    assert not systemd.notify("READY=1", {"NOTIFY_SOCKET": "/nonexistent/socket"})
