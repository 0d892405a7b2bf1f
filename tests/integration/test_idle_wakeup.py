"""An idle node sleeps; a commit by anyone, in any process, wakes it at once.

The sync worker used to look for commits every 20 ms and the checkpointer ran
every 0.5 s, whatever happened: 1.2% of a core per idle node. Now every write
transaction pokes the serving node (node/wakeup.py) and the worker's own look
backs off to IDLE_POLL when nothing happens. These tests count looks and
wake-ups; none measures time.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from shares_helpers import idle, three_orgs, wait_until

from tagshare.node import sync, wakeup

REPO = Path(__file__).resolve().parents[2]
EDIT_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from tagshare.node import people
from tagshare.node.node import open_node
node = open_node(Path(sys.argv[1]))
people.edit_person(node, sys.argv[2], {"first_name": "Knocked"})
node.close()
"""


def _idle_tail(waits: list[float]) -> list[float]:
    """The pauses since the worker's last round (each round starts again at WAKE_INTERVAL)."""
    last_round = max(i for i, pause in enumerate(waits) if pause == sync.WAKE_INTERVAL)
    return waits[last_round:]


async def test_an_idle_worker_looks_ever_less_often(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        worker = trio.party.worker
        await wait_until(lambda: worker.waits[-3:] == [sync.IDLE_POLL] * 3, 30,
                         "the worker settles at its idle pause")
        tail = _idle_tail(worker.waits)
        growing = [pause for pause in tail if pause < sync.IDLE_POLL]
        assert growing == [sync.WAKE_INTERVAL * 2 ** n for n in range(len(growing))]
        assert len(growing) <= 7, "more than seven looks before settling at one a second"
        assert tail[len(growing):] == [sync.IDLE_POLL] * (len(tail) - len(growing))


async def test_a_commit_in_another_process_wakes_a_sleeping_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every look for commits pushed out to an hour, only pokes wake the workers."""
    if not wakeup.SUPPORTED:
        pytest.skip("abstract unix sockets are Linux only; elsewhere the poll wakes it")
    for name in ("WAKE_INTERVAL", "IDLE_POLL", "IDLE_ROUND"):
        monkeypatch.setattr(sync, name, 3600.0)
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        person = party.add_person(first_name="Door", last_name="Knock")
        await trio.active(a)
        await wait_until(lambda: a.copy_of(party, person) is not None, 20, "the share arrives")
        worker = party.worker
        await wait_until(lambda: idle(party, a.node_id), 20, "the party owes nothing")
        assert worker.waits[-1] == 3600.0
        rounds = worker.rounds
        subprocess.run([sys.executable, "-c", EDIT_IN_ANOTHER_PROCESS, str(party.home),
                        person], cwd=REPO, check=True, timeout=60)
        await wait_until(lambda: (a.copy_of(party, person) or {"first_name": ""})
                         ["first_name"] == "Knocked", 30, "the edit reaches campaign A")
        assert worker.rounds > rounds


async def test_a_poke_with_nobody_listening_is_ignored(tmp_path: Path) -> None:
    wakeup.poke(str(tmp_path / "no-node-here.db"))  # the CLI with no server running
    wakeup.poke("")  # an in-memory database


async def test_a_second_listener_on_the_same_database_falls_back_to_polling(
        tmp_path: Path) -> None:
    if not wakeup.SUPPORTED:
        pytest.skip("abstract unix sockets are Linux only")
    woken: list[str] = []
    first = wakeup.WakeListener(str(tmp_path / "node.db"), lambda: woken.append("first"))
    second = wakeup.WakeListener(str(tmp_path / "node.db"), lambda: woken.append("second"))
    try:
        assert first.listening and not second.listening

        first.start(asyncio.get_running_loop())
        wakeup.poke(str(tmp_path / "node.db"))
        wakeup.poke(str(tmp_path / "node.db"))
        await wait_until(lambda: woken, 10, "the poke arrives")
        assert set(woken) == {"first"}
    finally:
        first.close()
        second.close()
