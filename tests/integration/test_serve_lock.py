"""One `tagshare serve` per home (issue 11 item 11): two ran on one home, the second
deleted `serve.pid` when it exited, and `restore` then ran under the live server. Real
`tagshare serve` processes, as an operator would start them."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_integration_serve import START_TIMEOUT, STOP_TIMEOUT, drain, start_serve, wait_for_url

from tagshare.node.backup import PID_FILE, backup
from tagshare.node.node import init_node, open_node

REPO = Path(__file__).resolve().parents[2]
TAGSHARE = [sys.executable, "-c", "from tagshare.cli.main import main; main()"]


def tagshare(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TAGSHARE, *args, "--home", str(home)], capture_output=True,
                          text=True, cwd=REPO, stdin=subprocess.DEVNULL,
                          timeout=START_TIMEOUT + STOP_TIMEOUT)


def assert_refused(result: subprocess.CompletedProcess[str], doing: str, pid: int) -> None:
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot {doing}: `tagshare serve`"), line
    assert f"(pid {pid})" in line and "stop it first" in line, line


def answers(url: str) -> bool:
    with urllib.request.urlopen(url + "/.well-known/tagshare", timeout=10) as response:
        return response.status == 200


@pytest.fixture
def home(tmp_path: Path) -> Path:
    init_node(tmp_path / "home", name="Lock Org", url="http://127.0.0.1:7440").close()
    return tmp_path / "home"


@dataclass
class Serving:
    process: subprocess.Popen[str]
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@pytest.fixture
def first_serve(home: Path) -> Iterator[Serving]:
    process, lines = start_serve(home)
    seen: list[str] = []
    try:
        yield Serving(process, wait_for_url(lines, seen))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        drain(lines, seen)
        assert process.stdout is not None
        process.stdout.close()


def test_a_second_serve_refuses_and_leaves_the_first_ones_pid_file(
        home: Path, first_serve: Serving) -> None:
    assert (home / PID_FILE).read_text().strip() == str(first_serve.pid)
    for options in (["--port", "0"], ["--no-listen"]):
        second = tagshare(home, "serve", *options)
        assert_refused(second, "serve", first_serve.pid)
        assert (home / PID_FILE).read_text().strip() == str(first_serve.pid)
    assert answers(first_serve.url)


def test_restore_refuses_under_a_live_serve_whatever_happened_to_the_pid_file(
        home: Path, first_serve: Serving, tmp_path: Path) -> None:
    node = open_node(home)
    try:
        backup(node, tmp_path / "node.bak")
    finally:
        node.close()
    (home / PID_FILE).unlink()  # as the second serve used to do when it exited
    restore = tagshare(home, "restore", str(tmp_path / "node.bak"), "--yes")
    assert_refused(restore, "restore", first_serve.pid)
    assert answers(first_serve.url)

    first_serve.process.send_signal(signal.SIGTERM)
    first_serve.process.wait(timeout=STOP_TIMEOUT)
    restored = tagshare(home, "restore", str(tmp_path / "node.bak"), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "restored from" in restored.stdout


def test_the_lock_dies_with_a_killed_serve(home: Path) -> None:
    process, lines = start_serve(home)
    seen: list[str] = []
    wait_for_url(lines, seen)
    process.kill()  # SIGKILL: no shutdown code runs, the pid file stays behind
    process.wait()
    drain(lines, seen)
    assert process.stdout is not None
    process.stdout.close()
    again, more = start_serve(home)
    try:
        wait_for_url(more, [])
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=STOP_TIMEOUT)
        drain(more, [])
        assert again.stdout is not None
        again.stdout.close()
