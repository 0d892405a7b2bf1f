"""Two writers on one SQLite file: the `tagshare` CLI while `tagshare serve` syncs.

The sender serves an initial sync of a large share (its worker writes pending
rows in big transactions) and the subscriber applies it (1,000-item batches per
transaction). Meanwhile `tagshare people edit`, `tagshare tag add` and
`tagshare people add` run as subprocesses in a loop against both homes. No
command may fail, none may print "database is locked", and every write lands
(and, on the sender, reaches the subscriber).

Short: 6,000 people, 12 + 6 commands. Long (TAGSHARE_LONG_FAULTS=1): 50,000 people,
150 commands.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from pathlib import Path

from fault_helpers import (
    LONG,
    SEED,
    assert_converged,
    grant_and_accept,
    load_people,
    nodes,
    pair,
)

PEOPLE = 50_000 if LONG else 6_000
COMMANDS = 150 if LONG else 12
CLI = [sys.executable, "-c", "from tagshare.cli.main import main; main()"]


def tagshare(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--home", str(home), *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_cli_writes_while_serve_syncs(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    with nodes(tmp_path, "sender", "subscriber") as (sender, subscriber):
        sender.start()
        subscriber.start()
        pair(sender, subscriber)
        people = load_people(sender, PEOPLE, rng)
        targets = rng.sample(people, COMMANDS)
        share_id = grant_and_accept(sender, subscriber)
        results: list[tuple[list[str], subprocess.CompletedProcess[str]]] = []

        def sender_loop() -> None:
            for n, uuid in enumerate(targets):
                args = (["people", "edit", uuid, "--first-name", f"Cli{n}"] if n % 2 == 0
                        else ["tag", "add", uuid, "cli-touched"])
                results.append((args, tagshare(sender.home, *args)))

        def subscriber_loop() -> None:
            for n in range(COMMANDS // 2):
                args = ["people", "add", "--first-name", f"Local{n}", "--last-name", "Writer"]
                results.append((args, tagshare(subscriber.home, *args)))

        threads = [threading.Thread(target=sender_loop), threading.Thread(target=subscriber_loop)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        failed = [(args, r.returncode, r.stderr[-300:]) for args, r in results
                  if r.returncode != 0 or "locked" in (r.stderr + r.stdout).lower()]
        assert not failed, failed
        assert len(results) == COMMANDS + COMMANDS // 2

        edited = {uuid: f"Cli{n}" for n, uuid in enumerate(targets) if n % 2 == 0}
        marks = ",".join("?" * len(edited))
        rows = {r["uuid"]: r["first_name"] for r in sender.query(
            f"SELECT uuid, first_name FROM people WHERE uuid IN ({marks})", tuple(edited))}
        assert rows == edited
        touched = sender.value("SELECT count(*) FROM taggings g JOIN tags t ON t.id = g.tag "
                               "WHERE t.name = 'cli-touched'")
        assert touched == COMMANDS - len(edited)
        assert subscriber.value("SELECT count(*) FROM people WHERE last_name = 'Writer' "
                                "AND origin IS NULL") == COMMANDS // 2
        assert_converged(sender, subscriber, share_id, 60 + PEOPLE / 250)
        assert not sender.tracebacks() and not subscriber.tracebacks()
    print(f"\ntwo writers: {len(results)} CLI commands while syncing {PEOPLE} people, none failed")
