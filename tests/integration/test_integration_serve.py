"""`tagshare serve` as a real process: it binds, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tagshare.node.node import init_node
from tagshare.protocol import parse_document, verify_document

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
LISTENING = re.compile(r"listening on (http://\S+)")


def start_serve(home: Path, port: int = 0,
                ) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    command = [sys.executable, "-c", "from tagshare.cli.main import main; main()",
               "serve", "--home", str(home), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=Path(__file__).resolve().parents[2])
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        with process.stderr:
            for line in process.stderr:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def wait_for_url(lines: queue.Queue[str | None], seen: list[str]) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        if line is None:
            break
        seen.append(line)
        match = LISTENING.search(line)
        if match:
            return match.group(1)
    raise AssertionError("serve never said where it listens:\n" + "".join(seen))


def drain(lines: queue.Queue[str | None], seen: list[str]) -> None:
    while (line := lines.get(timeout=STOP_TIMEOUT)) is not None:
        seen.append(line)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_answers_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    node = init_node(tmp_path / "home", name="Serve Org", url="http://127.0.0.1:7440")
    node_id = node.node_id
    node.close()
    process, lines = start_serve(tmp_path / "home")
    seen: list[str] = []
    try:
        url = wait_for_url(lines, seen)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
        with urllib.request.urlopen(url + "/.well-known/tagshare", timeout=10) as response:
            assert response.status == 200
            document = parse_document(response.read())
        verify_document(document, now=int(time.time()), expected_node_id=node_id)
        assert document.name == "Serve Org"

        request = urllib.request.Request(url + "/federation/v1/inbox", data=b"garbage",
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("garbage was accepted")
        except urllib.error.HTTPError as refused:
            with refused:
                assert refused.code == 400
                assert json.loads(refused.read())["error"] == "malformed"
    finally:
        process.send_signal(stop)
        try:
            exit_code = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    drain(lines, seen)
    stderr = "".join(seen)
    assert exit_code == 0, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert process.stdout is not None
    with process.stdout:
        assert process.stdout.read() == ""
    # For a human: no access lines at the default level, the refusal once with its reason.
    assert "HTTP/1.1\"" not in stderr, stderr
    assert len(re.findall(r"refused a request: malformed \(HTTP 400\)", stderr)) == 1, stderr


def serve_on_a_busy_port(tmp_path: Path) -> tuple[int, str]:
    init_node(tmp_path / "home", name="Busy Org").close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process, lines = start_serve(tmp_path / "home", port=taken.getsockname()[1])
        try:
            exit_code = process.wait(timeout=START_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    seen: list[str] = []
    drain(lines, seen)
    assert process.stdout is not None
    with process.stdout:
        process.stdout.read()
    return exit_code, "".join(seen)


def test_serve_on_a_busy_port_fails_in_one_line(tmp_path: Path) -> None:
    exit_code, stderr = serve_on_a_busy_port(tmp_path)
    assert exit_code == 1, stderr
    assert "Traceback" not in stderr, stderr
    [line] = stderr.strip().splitlines()
    assert line.startswith("Error: ") and "address already in use" in line, stderr


def test_busy_port_error_says_what_to_do(tmp_path: Path) -> None:
    _, stderr = serve_on_a_busy_port(tmp_path)
    line = stderr.strip()
    assert not line.endswith(":"), line
    assert "--port" in line, line
