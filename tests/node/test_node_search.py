"""`people search`: sqlite-utils' full-text index of people (issue 11, item 13).

The index follows every change (add, edit, import, receive, erase), and an erased
person leaves no token behind in any of its shadow tables, whoever erased them.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from received_helpers import Peer
from schema_helpers import downgrade

from tagshare.node.ids import uuid7
from tagshare.node.node import open_node
from tagshare.node.received import apply_items
from tagshare.node.storage import db, schema, search
from tagshare.node.storage import shares as shares_store
from tagshare.protocol import Item

if TYPE_CHECKING:
    from conftest import Tagshare  # tests/node/conftest.py

# Distinctive values, to look for in the raw bytes of the index. FTS5 stores a term's
# prefix shared with the previous term only once, so the checks look for tails.
SECRET_NAME = ("Quetzalcoatl", b"etzalcoatl")
SECRET_EMAIL = ("xochitl.vargas@plumed.example", b"ochitl")
SECRET_CITY = ("Teotihuacan", b"eotihuacan")


def uuids(node: Tagshare, *query: str) -> list[str]:
    return [p["uuid"] for p in node.json("people", "search", *query)]


def index_bytes(home: Path) -> bytes:
    """Every value of every shadow table of the search index, as bytes."""
    with closing(sqlite3.connect(home / "node.db")) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'people_fts_%'")]
        assert {"people_fts_data", "people_fts_idx"} <= set(tables)
        chunks = []
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        chunks.append(value)
                    elif value is not None:
                        chunks.append(str(value).encode())
        return b"\0".join(chunks)


def crowd(node: Tagshare, count: int = 30, start: int = 0) -> None:
    """Other people, so that the index has several segments and shared prefixes."""
    for index in range(start, start + count):
        node.add("--first-name", f"Person{index}", "--last-name", "Smith",
                 "--email", f"p{index}@example.org", "--city", "Columbus")


def test_add_edit_and_search_by_each_column(node: Tagshare) -> None:
    ann = node.add("--first-name", "María", "--last-name", "López", "--email",
                   "maria@example.org", "--phone", "614 555 0142", "--city", "Columbus")
    juan = node.add("--first-name", "Juan", "--last-name", "Lopez", "--phone", "614-555-0199")
    assert uuids(node, "maria") == [ann]  # accents do not matter
    assert uuids(node, "mar lo") == [ann]  # every word, as a prefix
    assert set(uuids(node, "lopez")) == {ann, juan}
    assert uuids(node, "maria@example.org") == [ann]
    assert uuids(node, "(614) 555-0142") == [ann]  # a phone, in any format
    assert uuids(node, "+1 614 555 0199") == [juan]
    assert uuids(node, "columbus") == [ann]
    assert uuids(node, "lopez", "--limit", "1") in ([ann], [juan])

    node.ok("people", "edit", ann, "--first-name", "Ana", "--email", "ana@example.org",
            "--city", "Dayton")
    assert uuids(node, "ana dayton") == [ann]
    assert uuids(node, "columbus") == []
    assert uuids(node, "maria") == []


@pytest.mark.parametrize("query", ['NEAR(a b)', 'first_name:maria', '"', 'a OR b', '*', 'x"*"',
                                   "'); DROP TABLE people;--", "^maria", "-maria"])
def test_search_syntax_in_a_query_is_only_text(node: Tagshare, query: str) -> None:
    node.add("--first-name", "Maria", "--email", "maria@example.org")
    before = node.count("people")
    result = node.run("--home", str(node.home), "people", "search", "--json", "--", query,
                      home=False)
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    if result.exit_code == 1:
        assert "give some letters or digits" in result.output
    assert node.count("people") == before


def test_erase_leaves_no_token_in_the_index(node: Tagshare) -> None:
    crowd(node)
    secret = node.add("--first-name", SECRET_NAME[0], "--email", SECRET_EMAIL[0],
                      "--city", SECRET_CITY[0])
    crowd(node, 10, start=30)
    raw = index_bytes(node.home)
    assert all(tail in raw for _, tail in (SECRET_NAME, SECRET_EMAIL, SECRET_CITY))
    assert uuids(node, "quetzalcoatl") == [secret]

    node.ok("people", "erase", secret, "--yes")
    assert uuids(node, "quetzalcoatl") == [] and uuids(node, "teotihuacan") == []
    raw = index_bytes(node.home)
    assert not any(tail in raw for _, tail in (SECRET_NAME, SECRET_EMAIL, SECRET_CITY))
    assert len(uuids(node, "smith", "--limit", "1000")) == 40  # the others are still found


def erase_from_peer(node: Tagshare, peer: Peer, origin_uuid: str) -> None:
    """The granter's `erase` item, through the real apply path."""
    peer.version += 1
    local = open_node(node.home)
    try:
        with db.transaction(local.conn) as conn:
            share = shares_store.get_share(conn, peer.share)
            apply_items(local, conn, share,
                        (Item(op="erase", uuid=origin_uuid, version=peer.version),))
    finally:
        local.close()


def test_a_peers_erase_and_blanking_leave_no_token(node: Tagshare) -> None:
    crowd(node, 10)
    peer = Peer(node.home, "Rivera Campaign", local_tag="rivera:volunteers")
    deleted = "a1b2c3d4-0000-7000-8000-000000000001"
    blanked = "a1b2c3d4-0000-7000-8000-000000000002"
    copy = peer.send(deleted, first_name=SECRET_NAME[0], email=SECRET_EMAIL[0])
    kept = peer.send(blanked, first_name="Tlaloc", last_name=SECRET_CITY[0])
    # Our own contact on the second: erasing it keeps the row, blanked, for our record.
    node.ok("contact", "add", kept, "--method", "door", "--outcome", "not home")
    assert uuids(node, "quetzalcoatl") == [copy] and uuids(node, "teotihuacan") == [kept]
    raw = index_bytes(node.home)
    assert SECRET_NAME[1] in raw and SECRET_CITY[1] in raw

    erase_from_peer(node, peer, deleted)
    erase_from_peer(node, peer, blanked)
    assert uuids(node, "quetzalcoatl") == [] and uuids(node, "teotihuacan") == []
    assert node.count("people") == 11  # the crowd and the blanked row with our contact
    raw = index_bytes(node.home)
    assert not any(tail in raw for _, tail in (SECRET_NAME, SECRET_EMAIL, SECRET_CITY))


def test_the_migration_indexes_people_of_a_version_9_database(node: Tagshare) -> None:
    path = node.home / "node.db"
    downgrade(path, 9)
    ann, bo = str(uuid7()), str(uuid7())
    with closing(sqlite3.connect(path)) as conn:
        conn.executemany(
            "INSERT INTO people (uuid, first_name, last_name, email, city, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [(ann, "Ann", "Lee", None, "Columbus"), (bo, "Bo", None, "bo@example.org", None)])
        conn.commit()
    assert schema_of(path) == schema_after(schema.MIGRATIONS[:9])

    assert uuids(node, "lee columbus") == [ann]  # upgraded on first use
    assert uuids(node, "bo@example.org") == [bo]
    assert schema_of(path) == schema_after(schema.MIGRATIONS)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    with closing(sqlite3.connect(node.home / "node.db.pre-v9.bak")) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 9
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 2
    cy = node.add("--first-name", "Cy", "--city", "Columbus")  # the triggers work
    assert set(uuids(node, "columbus")) == {ann, cy}


def schema_of(path: Path) -> set[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as conn:
        return {(kind, name, sql) for kind, name, sql in conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")}


def schema_after(migrations: list[schema.Migration]) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with closing(conn):
        conn.execute("BEGIN")
        for migration in migrations:
            schema._apply(conn, migration)
        conn.execute("COMMIT")
        return {(kind, name, sql) for kind, name, sql in conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")}


def test_a_bulk_import_is_indexed_and_later_people_too(node: Tagshare, tmp_path: Path) -> None:
    rows = "\n".join(f"First{i},Last{i},p{i}@example.org,Columbus" for i in range(50))
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("first_name,last_name,email,city\n" + rows + "\n")
    node.ok("people", "import", str(csv_file))
    assert len(uuids(node, "columbus", "--limit", "100")) == 50
    assert len(uuids(node, "first7")) == 1
    with node.db() as conn:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'people_ai'").fetchone()
    late = node.add("--first-name", "Late", "--city", "Columbus")
    assert late in uuids(node, "late columbus")


def test_a_thousand_erasures_one_at_a_time_leave_the_index_working(tmp_path: Path) -> None:
    """Each erasing transaction optimizes the index, and each optimize added a level to
    its structure: after about a thousand, SQLite called the index corrupt and the node
    could write no person any more ("database disk image is malformed"; found by
    benchmarks/bench_statewide.py, whose party erases 1,000 people)."""
    from tagshare.node import people as people_ops
    from tagshare.node.node import init_node

    node = init_node(tmp_path / "node", name="Eraser")
    try:
        people = [people_ops.add_person(node, {"first_name": f"Person{n}",
                                               "last_name": "Smith"}, [])
                  for n in range(2100)]
        for uuid in people[:1100]:
            people_ops.erase_person(node, uuid)  # each its own transaction
        survivor = people[2000]
        people_ops.edit_person(node, survivor, {"first_name": "Stillwritable"})
        node.conn.execute("INSERT INTO people_fts (people_fts) VALUES ('integrity-check')")
        found = node.conn.execute("SELECT rowid FROM people_fts WHERE people_fts MATCH "
                                  "'stillwritable'").fetchall()
        assert len(found) == 1
        assert node.conn.execute("SELECT count(*) FROM people").fetchone()[0] == 1000
    finally:
        node.close()


def erase_several(node: Tagshare, count: int) -> list[str]:
    """`count` people with secret values among a crowd, erased one transaction each on
    one open node (as the serving node or a script would); returns their uuids."""
    from tagshare.node import people as people_ops

    crowd(node, 20)
    local = open_node(node.home)
    try:
        secrets = [people_ops.add_person(local, {
            "first_name": f"{SECRET_NAME[0]}{n}", "city": SECRET_CITY[0]}, [])
            for n in range(count)]
        for uuid in secrets:
            people_ops.erase_person(local, uuid)
        assert (SECRET_CITY[1] in index_bytes(node.home)) == (count > 1)
        assert not local.conn.execute("SELECT 1 FROM people_fts WHERE people_fts MATCH"
                                      " 'teotihuacan'").fetchall()  # unsearchable at once
    finally:
        local.close()
    return secrets


def test_erasures_in_quick_succession_purge_once_and_closing_purges_the_rest(
        node: Tagshare, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first erasure purges in its own transaction; the next ones, within
    PURGE_GAP of it, leave the purge due (the tokens are still in the index's pages)
    until the node is closed, which purges them."""
    monkeypatch.setattr(search, "PURGE_GAP", 3600.0)
    erase_several(node, 3)
    assert SECRET_CITY[1] not in index_bytes(node.home)
    assert SECRET_NAME[1] not in index_bytes(node.home)
    assert len(uuids(node, "smith", "--limit", "100")) == 20


def test_each_cli_erasure_leaves_no_token_even_right_after_a_purge(
        node: Tagshare, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "PURGE_GAP", 3600.0)
    crowd(node, 10)
    first = node.add("--first-name", "Tlaloc", "--city", "Columbus")
    second = node.add("--first-name", SECRET_NAME[0], "--email", SECRET_EMAIL[0])
    node.ok("people", "erase", first, "--yes")  # purges, and starts the gap
    node.ok("people", "erase", second, "--yes")  # within the gap: purged on closing
    raw = index_bytes(node.home)
    assert SECRET_NAME[1] not in raw and SECRET_EMAIL[1] not in raw


def test_a_due_purge_is_kept_in_the_database_for_the_next_writer(
        node: Tagshare, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed before closing leaves the purge due in the database, and the
    next write transaction once PURGE_GAP has passed does it."""
    from tagshare.node import people as people_ops

    monkeypatch.setattr(search, "PURGE_GAP", 3600.0)
    crowd(node, 10)
    local = open_node(node.home)
    secret = people_ops.add_person(local, {"first_name": SECRET_NAME[0]}, [])
    people_ops.erase_person(local, people_ops.add_person(local, {"first_name": "Ann"}, []))
    people_ops.erase_person(local, secret)
    local.conn.close()  # as if killed: Node.close never ran
    assert SECRET_NAME[1] in index_bytes(node.home)
    monkeypatch.setattr(search, "PURGE_GAP", 0.0)
    node.add("--first-name", "Later")  # any write transaction
    assert SECRET_NAME[1] not in index_bytes(node.home)


async def test_a_serving_node_purges_a_due_erasure_by_itself(
        tmp_path: Path, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing else commits and nobody closes the node: the server's checkpoint loop
    purges once the gap has passed."""
    import asyncio

    from tagshare.node import people as people_ops
    from tagshare.node.node import init_node
    from tagshare.node.server import create_app

    monkeypatch.setattr(search, "PURGE_GAP", 1.0)
    served = init_node(tmp_path / "served", name="Served")
    try:
        await aiohttp_client(create_app(served, sync=False))
        secret = people_ops.add_person(served, {"first_name": SECRET_NAME[0]}, [])
        other = people_ops.add_person(served, {"first_name": "Ann"}, [])
        people_ops.erase_person(served, other)  # purges now: the gap starts
        people_ops.erase_person(served, secret)  # due in a second
        assert SECRET_NAME[1] in index_bytes(served.home)
        for _ in range(600):
            if SECRET_NAME[1] not in index_bytes(served.home):
                break
            await asyncio.sleep(0.05)
        assert SECRET_NAME[1] not in index_bytes(served.home)
        with closing(sqlite3.connect(served.home / "node.db")) as conn:
            assert conn.execute("SELECT count(*) FROM people_search_erased").fetchone()[0] == 0
    finally:
        served.close()
