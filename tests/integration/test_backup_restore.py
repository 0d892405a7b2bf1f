"""Backup while serving, and a granter restored from an older backup: the subscriber
converges on the restored state (nothing extra kept, nothing stale) instead of diverging."""

from __future__ import annotations

from pathlib import Path

import pytest
from shares_helpers import Trio, settled, wait_until

from tagshare.node import backup, people, shares
from tagshare.node.errors import InvalidInput, NodeError
from tagshare.node.node import open_node


async def test_backup_is_private_and_refuses_to_overwrite(trio: Trio, tmp_path: Path) -> None:
    party = trio.party
    party.add_person(first_name="Ann", email="ann@example.org")
    target = tmp_path / "party.bak"
    assert backup.backup(party.op, target) > 0
    assert target.stat().st_mode & 0o777 == 0o600
    with pytest.raises(InvalidInput):
        backup.backup(party.op, target)


async def test_restore_refuses_another_nodes_backup_and_a_running_server(
        trio: Trio, tmp_path: Path) -> None:
    party, a = trio.party, trio.a
    other = tmp_path / "a.bak"
    backup.backup(a.op, other)
    mine = tmp_path / "party.bak"
    backup.backup(party.op, mine)
    (party.home / backup.PID_FILE).write_text(f"{__import__('os').getpid()}\n")
    with pytest.raises(NodeError, match="running"):
        backup.restore(party.op, mine)
    (party.home / backup.PID_FILE).unlink()
    with pytest.raises(InvalidInput, match="another node"):
        backup.restore(party.op, other)


async def test_granter_restored_from_an_old_backup_resends_in_full(
        trio: Trio, tmp_path: Path) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    bob = party.add_person(first_name="Bob", email="bob@example.org")
    share_id = await trio.active(a, fields="name,email")
    old = tmp_path / "party-old.bak"
    backup.backup(party.op, old)

    carl = party.add_person(first_name="Carl", email="carl@example.org")  # after the backup
    party.edit(ann, first_name="Annie")
    await settled(party, share_id)
    assert a.copy_of(party, carl) is not None

    await party.stop()
    restored = open_node(party.home)
    try:
        summary = backup.restore(restored, old)
    finally:
        restored.close()
    assert summary["resent_shares"] == 1
    await party.start()
    await wait_until(lambda: a.copy_of(party, carl) is None,
                     message="Carl, unknown to the restored party, leaves the subscriber")
    await wait_until(lambda: (a.copy_of(party, ann) or {"first_name": None})["first_name"]
                     == "Ann", message="Ann's restored name")
    assert a.copy_of(party, bob) is not None
    party.edit(bob, first_name="Robert")  # new changes after the restore still flow
    await wait_until(lambda: (a.copy_of(party, bob) or {"first_name": None})["first_name"]
                     == "Robert")
    assert shares.show_share(party.op, share_id)["status"] == "active"
    assert people.counts(party.op)["people"] == 2


async def test_subscriber_restored_from_an_old_backup_asks_for_everything_again(
        trio: Trio, tmp_path: Path) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.active(a, fields="name,email")
    old = tmp_path / "a-old.bak"
    backup.backup(a.op, old)

    bob = party.add_person(first_name="Bob", email="bob@example.org")
    party.edit(ann, first_name="Annie")
    await settled(party, share_id)
    await wait_until(lambda: a.copy_of(party, bob) is not None)

    await a.stop()
    restored = open_node(a.home)
    try:
        assert backup.restore(restored, old)["resync_requests"] == 1
    finally:
        restored.close()
    assert a.copy_of(party, bob) is None  # the old state, until the resend arrives
    await a.start()
    await wait_until(lambda: a.copy_of(party, bob) is not None, message="Bob comes back")
    await wait_until(lambda: (a.copy_of(party, ann) or {"first_name": None})["first_name"]
                     == "Annie", message="Ann's current name")
    assert len(a.received_people(party)) == 2
