"""SQL for the OSDI API's pages (people, tags, taggings, donations, field contacts) and for
OSDI pull sources (their cursors, the source's identifiers, the taggings a pull made).

A filter reaches this module as a (field, operator, value) triple already checked
against the fixed table below; the value is always a bound parameter.
"""

import sqlite3
from collections.abc import Sequence

from tagshare.node.storage.db import select_in_chunks

PEOPLE_FILTERS = {
    ("modified_date", "gt"): "updated_at > ?",
    ("modified_date", "lt"): "updated_at < ?",
    ("created_date", "gt"): "created_at > ?",
    ("created_date", "lt"): "created_at < ?",
    ("email_address", "eq"): "email = ?",
}
PeopleFilter = tuple[str, str, str]


def _where(condition: PeopleFilter | None) -> tuple[str, list[object]]:
    if condition is None:
        return "", []
    field, operator, value = condition
    return f"WHERE {PEOPLE_FILTERS[(field, operator)]}", [value]


def count_people(conn: sqlite3.Connection, condition: PeopleFilter | None) -> int:
    where, params = _where(condition)
    return int(conn.execute(f"SELECT count(*) FROM people {where}", params).fetchone()[0])


def people_page(conn: sqlite3.Connection, condition: PeopleFilter | None, *, limit: int,
                offset: int) -> list[sqlite3.Row]:
    """People in creation order (uuids are time-ordered), with their origin's peer name.
    The offset is skipped over uuids alone, then only the page's rows are read (on a
    million people, the last page: 27 ms instead of 133 ms)."""
    where, params = _where(condition)
    return conn.execute(
        f"SELECT p.*, pe.name AS peer_name FROM (SELECT uuid FROM people {where} "
        "ORDER BY uuid LIMIT ? OFFSET ?) k JOIN people p ON p.uuid = k.uuid "
        "LEFT JOIN peers pe ON pe.node_id = p.origin ORDER BY p.uuid",
        [*params, limit, offset]).fetchall()


def change_mark(conn: sqlite3.Connection) -> tuple[int, int]:
    """Differs after any commit, by another connection (data_version) or this one."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0]), conn.total_changes


def person_with_origin(conn: sqlite3.Connection, uuid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT p.*, pe.name AS peer_name FROM people p "
        "LEFT JOIN peers pe ON pe.node_id = p.origin WHERE p.uuid = ?", (uuid,)).fetchone()
    return row


# --- tags and taggings --------------------------------------------------------------


def count_tags(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM tags").fetchone()[0])


def tags_page(conn: sqlite3.Connection, *, limit: int, offset: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT id, name FROM tags ORDER BY id LIMIT ? OFFSET ?",
                        (limit, offset)).fetchall()


def tag_by_id(conn: sqlite3.Connection, tag: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT id, name FROM tags WHERE id = ?", (tag,)).fetchone()
    return row


def count_taggings(conn: sqlite3.Connection, *, tag: int | None = None,
                   person: str | None = None) -> int:
    column, value = ("tag", tag) if tag is not None else ("person", person)
    return int(conn.execute(f"SELECT count(*) FROM taggings WHERE {column} = ?",
                            (value,)).fetchone()[0])


def taggings_page(conn: sqlite3.Connection, *, tag: int | None = None,
                  person: str | None = None, limit: int, offset: int) -> list[sqlite3.Row]:
    """(tag id, tag name, person) of one tag's or one person's taggings."""
    column, value = ("t.tag", tag) if tag is not None else ("t.person", person)
    return conn.execute(
        "SELECT t.tag, g.name, t.person FROM taggings t JOIN tags g ON g.id = t.tag "
        f"WHERE {column} = ? ORDER BY t.tag, t.person LIMIT ? OFFSET ?",
        (value, limit, offset)).fetchall()


def has_tagging(conn: sqlite3.Connection, tag: int, person: str) -> bool:
    return conn.execute("SELECT 1 FROM taggings WHERE tag = ? AND person = ?",
                        (tag, person)).fetchone() is not None


# --- donations and field contacts ------------------------------------------------------

_ACTIVITY = {"donations": "donations", "contacts": "contacts"}


def count_activity(conn: sqlite3.Connection, table: str, person: str | None) -> int:
    name = _ACTIVITY[table]
    if person is None:
        return int(conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
    return int(conn.execute(f"SELECT count(*) FROM {name} WHERE person = ?",
                            (person,)).fetchone()[0])


def activity_page(conn: sqlite3.Connection, table: str, person: str | None, *, limit: int,
                  offset: int) -> list[sqlite3.Row]:
    name = _ACTIVITY[table]
    where, params = ("WHERE person = ?", [person]) if person is not None else ("", [])
    return conn.execute(f"SELECT * FROM {name} {where} ORDER BY uuid LIMIT ? OFFSET ?",
                        [*params, limit, offset]).fetchall()


def activity_by_uuid(conn: sqlite3.Connection, table: str, uuid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM {_ACTIVITY[table]} WHERE uuid = ?", (uuid,)).fetchone()
    return row


# --- pull sources ---------------------------------------------------------------------


def add_source(conn: sqlite3.Connection, name: str, url: str, token_file: str) -> None:
    conn.execute(
        "INSERT INTO osdi_sources (name, url, token_file) VALUES (?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET url = excluded.url, token_file = excluded.token_file",
        (name, url, token_file))


def sources(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM osdi_sources ORDER BY name").fetchall()


def source_cursor(conn: sqlite3.Connection, url: str) -> str | None:
    row = conn.execute("SELECT cursor FROM osdi_sources WHERE url = ?", (url,)).fetchone()
    return None if row is None else row[0]


def save_cursor(conn: sqlite3.Connection, url: str, cursor: str | None, at: str) -> None:
    """Keep a source's cursor; a source pulled by URL alone gets its URL as its name."""
    conn.execute(
        "INSERT INTO osdi_sources (name, url, token_file, cursor, last_pull_at) "
        "SELECT ?, ?, '', ?, ? WHERE NOT EXISTS (SELECT 1 FROM osdi_sources WHERE url = ?) "
        "ON CONFLICT(name) DO NOTHING", (url, url, cursor, at, url))
    conn.execute("UPDATE osdi_sources SET cursor = coalesce(?, cursor), last_pull_at = ? "
                 "WHERE url = ?", (cursor, at, url))


def people_of_source(conn: sqlite3.Connection, source: str,
                     remotes: Sequence[str]) -> dict[str, str]:
    """The local person of each of these source identifiers that still exists."""
    rows = select_in_chunks(
        conn, "SELECT i.remote, i.person FROM osdi_identifiers i JOIN people p "
        "ON p.uuid = i.person WHERE i.source = ? AND i.remote IN ({marks})", remotes, (source,))
    return {row[0]: row[1] for row in rows}


def remember_people(conn: sqlite3.Connection, source: str,
                    pairs: Sequence[tuple[str, str]]) -> None:
    conn.executemany("INSERT OR REPLACE INTO osdi_identifiers (source, remote, person) "
                     "VALUES (?, ?, ?)", [(source, remote, person) for remote, person in pairs])


def pulled_tag_names(conn: sqlite3.Connection, source: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT DISTINCT tag FROM osdi_taggings WHERE source = ? ORDER BY tag", (source,))]


def pulled_taggings(conn: sqlite3.Connection, source: str, tag: str) -> set[str]:
    return {row[0] for row in conn.execute(
        "SELECT person FROM osdi_taggings WHERE source = ? AND tag = ?", (source, tag))}


def remember_taggings(conn: sqlite3.Connection, source: str, tag: str,
                      people: Sequence[str]) -> None:
    conn.executemany("INSERT OR IGNORE INTO osdi_taggings (source, tag, person) "
                     "VALUES (?, ?, ?)", [(source, tag, person) for person in people])


def forget_taggings(conn: sqlite3.Connection, source: str, tag: str,
                    people: Sequence[str]) -> None:
    conn.executemany("DELETE FROM osdi_taggings WHERE source = ? AND tag = ? AND person = ?",
                     [(source, tag, person) for person in people])
