"""`tagshare demo` end to end: four real nodes in subprocesses, nothing left behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEMO_TIMEOUT = 120
CHANGE_LINES = ("new volunteer ", "'s new phone ", " untagged volunteers, withdrawn ", " erased ",
                "door knock at ", "on the party's own record", "widened to name,phone,email (v2)")

TAGSHARE = [sys.executable, "-c", "from tagshare.cli.main import main; main()"]


def run_tagshare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TAGSHARE, *args],
                          capture_output=True, text=True, timeout=DEMO_TIMEOUT, check=False)


def demo_pids(stdout: str) -> list[int]:
    """The node processes, from the `started NAME (pid N)` lines."""
    return [int(pid) for pid in re.findall(r"\(pid (\d+)\)", stdout)]


def demo_folder(stdout: str) -> Path:
    match = re.search(r"^demo: folder (\S+)", stdout, re.MULTILINE)
    assert match, stdout
    return Path(match.group(1))


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def wait_gone(pids: list[int], seconds: float = 10) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_demo_runs_syncs_and_leaves_nothing_running() -> None:
    result = run_tagshare("demo", "--people", "60")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("Ohio Democratic Party", "Rivera for State Senate", "Chen for Congress",
                 "Okafor for County Commission"):
        assert re.search(rf"^{name}\s+http://127\.0\.0\.1:\d+\s+\d+\s+1\s+\d\s+in sync$", out,
                         re.MULTILINE), out
    assert re.search(r"^NODE\s+URL\s+PEOPLE\s+SHARES IN\s+SHARES OUT\s+STATUS$", out,
                     re.MULTILINE), out
    for fragment in CHANGE_LINES:
        assert re.search(rf"^  .*{re.escape(fragment)}.*-> .*\d+ ms$", out, re.MULTILINE), (
            fragment, out)
    assert out.count("initial sync: ") == 4, out
    # The last line says every node stopped: no stray line after it (issue 12, item 8).
    assert out.strip().splitlines()[-1].startswith("demo finished in "), out
    assert "demo: pids" not in out
    pids = demo_pids(out)
    assert len(pids) == 4
    assert wait_gone(pids) == []
    folder = demo_folder(out)
    assert not folder.exists()
    assert processes_mentioning(str(folder)) == []


def test_demo_keep_leaves_nodes_running_and_says_how_to_reach_them() -> None:
    result = run_tagshare("demo", "--people", "20", "--keep")
    pids = demo_pids(result.stdout) if result.stdout.strip() else []
    folder = demo_folder(result.stdout)
    try:
        assert result.returncode == 0, result.stderr
        assert f"Stop them with: kill {' '.join(map(str, pids))}" in result.stdout
        homes = re.findall(r"tagshare --home (\S+) people list", result.stdout)
        assert len(homes) == 4, result.stdout
        assert all(alive(pid) for pid in pids)
        listing = run_tagshare("--home", homes[1], "people", "list", "--json")
        assert listing.returncode == 0, listing.stderr
        assert "ohio-democratic-party:volunteers" in listing.stdout
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        assert wait_gone(pids) == []
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_stopped_midway_leaves_nothing_running(stop: signal.Signals) -> None:
    process = subprocess.Popen(
        [*TAGSHARE, "demo", "--people", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("started Okafor"):
            break
    process.send_signal(stop)
    out, _err = process.communicate(timeout=DEMO_TIMEOUT)
    assert process.returncode != 0
    folder = demo_folder("".join(lines))
    pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", "".join(lines))]
    assert len(pids) == 4
    assert wait_gone(pids) == []
    assert not folder.exists()
    assert processes_mentioning(str(folder)) == []
