"""`serve --log-format json --log-level debug`, and readiness through NOTIFY_SOCKET."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from operator_helpers import HOST, SERVE_CODE, Served, wait_for


def test_json_logs_are_one_object_per_line_with_access_lines_at_debug(tmp_path: Path) -> None:
    node = Served.create(tmp_path, "Json Org")
    node.start("--log-format", "json", "--log-level", "debug")
    try:
        with urllib.request.urlopen(node.url + "/health", timeout=30) as answer:
            assert answer.status == 200
        wait_for(lambda: "/health" in node.log_text(), "the access line")
        assert node.stop() == 0
    finally:
        node.close()
    lines = [json.loads(line) for line in node.log_text().splitlines()]  # each one parses
    assert lines
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    [listening] = [line for line in lines if "listening on" in line["message"]]
    assert listening["url"] == node.url and listening["level"] == "info"
    [access] = [line for line in lines if "/health" in line["message"]]
    assert access["level"] == "debug" and access["status"] == 200
    assert any(line["message"] == "shutting down" for line in lines)


def test_warning_level_still_says_where_it_listens(tmp_path: Path) -> None:
    node = Served.create(tmp_path, "Quiet Org")
    node.start("--log-level", "warning")
    try:
        assert node.stop() == 0
    finally:
        node.close()
    assert "listening on " + node.url in node.log_text()


def test_serve_tells_systemd_it_is_ready_and_stopping(tmp_path: Path) -> None:
    node = Served.create(tmp_path, "Unit Org")
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(address)
        systemd.settimeout(30)
        try:
            node.start(env={**os.environ, "NOTIFY_SOCKET": address})
            ready = systemd.recv(4096).decode()
            assert node.stop() == 0
            stopping = systemd.recv(4096).decode()
        finally:
            node.close()
    assert ready.splitlines()[0] == "READY=1"
    assert f"STATUS=serving {node.url}" in ready.splitlines()
    assert stopping == "STOPPING=1"


def test_with_json_even_a_failure_to_start_is_one_json_line(tmp_path: Path) -> None:
    node = Served.create(tmp_path, "Busy Org")
    with socket.socket() as taken:
        taken.bind((HOST, node.port))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-c", SERVE_CODE, "--home", str(node.home), "serve",
             "--port", str(node.port), "--log-format", "json"],
            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    [line] = [json.loads(text) for text in result.stderr.splitlines()]
    assert line["level"] == "error" and "address already in use" in line["message"]
