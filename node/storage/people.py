"""SQL for people, tags and taggings."""

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence

from tagshare.node.storage import search
from tagshare.node.storage.columns import PERSON_FIELDS as PERSON_FIELDS  # re-exported
from tagshare.node.storage.coordination import NOT_CONTACTED_SINCE
from tagshare.node.storage.db import select_in_chunks

_COLUMNS = ("uuid", "origin", "origin_uuid", *PERSON_FIELDS, "created_at", "updated_at", "version",
            "link")


def insert_people(conn: sqlite3.Connection, rows: Iterable[dict[str, object]]) -> None:
    """Insert new people; each row has uuid, created_at, updated_at and any person fields.

    Many rows per statement: the search index's trigger (node/storage/search.py) makes
    FTS5 flush at the end of each statement, so one statement per row cost ~40 us a row.
    """
    values = [tuple(row.get(c, 1 if c == "version" else None) for c in _COLUMNS)
              for row in rows]
    insert_rows(conn, "people", _COLUMNS, values)
    search.note_added(conn, len(values))


def insert_rows(conn: sqlite3.Connection, table: str, columns: Sequence[str],
                values: Sequence[Sequence[object]]) -> None:
    """INSERT many rows with multi-row VALUES, as many rows per statement as stay under
    SQLite's oldest limit of 999 parameters."""
    _insert_flat(conn, f"INSERT INTO {table} ({', '.join(columns)}) VALUES {{rows}}",
                 len(columns), [value for row in values for value in row])


def update_person(
    conn: sqlite3.Connection, uuid: str, changes: Mapping[str, object], updated_at: str
) -> None:
    """Set some fields of a person and bump its version."""
    update_people(conn, [(uuid, changes)], updated_at)


def update_people(conn: sqlite3.Connection, changes: Sequence[tuple[str, Mapping[str, object]]],
                  updated_at: str) -> None:
    """Set some fields of many people, bumping each one's version: one statement per set
    of changed columns."""
    by_columns: dict[tuple[str, ...], list[Mapping[str, object]]] = {}
    for uuid, fields in changes:
        by_columns.setdefault(tuple(fields), []).append(
            {**fields, "updated_at": updated_at, "uuid": uuid})
    for columns, rows in by_columns.items():
        unknown = set(columns) - set(PERSON_FIELDS)
        if unknown:
            raise ValueError(f"not person fields: {sorted(unknown)}")
        sets = ", ".join(f"{field} = :{field}" for field in columns)
        conn.executemany(
            f"UPDATE people SET {sets}, updated_at = :updated_at, version = version + 1 "
            "WHERE uuid = :uuid", rows)


def get_person(conn: sqlite3.Connection, uuid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM people WHERE uuid = ?", (uuid,)
    ).fetchone()
    return row


def uuids_by_email(conn: sqlite3.Connection, email: str, *, local_only: bool = False) -> list[str]:
    sql = "SELECT uuid FROM people WHERE email = ?"
    if local_only:
        sql += " AND origin IS NULL"
    return [row[0] for row in conn.execute(sql, (email,))]


def uuids_by_phone(conn: sqlite3.Connection, phone: str, *, local_only: bool = False) -> list[str]:
    sql = "SELECT uuid FROM people WHERE phone = ?"
    if local_only:
        sql += " AND origin IS NULL"
    return [row[0] for row in conn.execute(sql, (phone,))]


def list_people(
    conn: sqlite3.Connection,
    *,
    tag: str | None = None,
    search: str | None = None,
    limit: int | None = None,
    not_contacted_since: str | None = None,
) -> Iterator[sqlite3.Row]:
    """People in creation order (uuids are time-ordered), optionally by tag and text, and
    leaving out those contacted since a time (on any row of the same human)."""
    clauses: list[str] = []
    params: list[object] = []
    if tag is not None:
        source = "taggings t JOIN people p ON p.uuid = t.person"
        clauses.append("t.tag = (SELECT id FROM tags WHERE name = ?)")
        params.append(tag)
        order = "t.person"
    else:
        source = "people p"
        order = "p.uuid"
    if search:
        pattern = f"%{_escape_like(search)}%"
        clauses.append(
            "(p.first_name LIKE ? ESCAPE '\\' OR p.last_name LIKE ? ESCAPE '\\' "
            "OR (coalesce(p.first_name, '') || ' ' || coalesce(p.last_name, '')) "
            "LIKE ? ESCAPE '\\' "
            "OR p.email LIKE ? ESCAPE '\\' OR p.phone LIKE ? ESCAPE '\\')"
        )
        params.extend([pattern] * 5)
    if not_contacted_since is not None:
        clauses.append(NOT_CONTACTED_SINCE)
        params.extend([not_contacted_since] * 2)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT p.* FROM {source} {where} ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    yield from conn.execute(sql, params)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def tags_of(conn: sqlite3.Connection, uuids: Sequence[str]) -> dict[str, list[str]]:
    """Tag names for each of the given people (sorted)."""
    result: dict[str, list[str]] = {uuid: [] for uuid in uuids}
    rows = select_in_chunks(
        conn, "SELECT t.person, g.name FROM taggings t JOIN tags g ON g.id = t.tag "
        "WHERE t.person IN ({marks}) ORDER BY g.name", uuids)
    for person, name in rows:
        result[person].append(name)
    return result


def tag_id(conn: sqlite3.Connection, name: str, *, create: bool) -> int | None:
    row = conn.execute("SELECT id FROM tags WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return int(row[0])
    if not create:
        return None
    cursor = conn.execute("INSERT INTO tags (name) VALUES (?)", (name,))
    return int(cursor.lastrowid or 0)


def add_taggings(conn: sqlite3.Connection, pairs: Iterable[tuple[int, str]]) -> int:
    """Tag people: (tag id, person uuid) pairs; returns how many were new.

    The count is the statement's own rows (`rowcount`), never `total_changes`, which
    also counts what the outbox triggers write when the tag is shared.
    """
    cursor = conn.executemany(
        "INSERT INTO taggings (tag, person) VALUES (?, ?) ON CONFLICT DO NOTHING", pairs)
    return max(cursor.rowcount, 0)


def remove_tagging(conn: sqlite3.Connection, tag: int, person: str) -> bool:
    cursor = conn.execute("DELETE FROM taggings WHERE tag = ? AND person = ?", (tag, person))
    return cursor.rowcount > 0


def tag_counts(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT g.name AS name, count(t.person) AS people FROM tags g "
        "LEFT JOIN taggings t ON t.tag = g.id GROUP BY g.id ORDER BY g.name"
    ).fetchall()


def carried_tags(conn: sqlite3.Connection) -> int:
    """Tags someone carries (a tag whose last person was untagged or erased is not one)."""
    return int(conn.execute("SELECT count(DISTINCT tag) FROM taggings").fetchone()[0])


def carriers(conn: sqlite3.Connection, tag: int) -> int:
    """How many people carry the tag with this id."""
    return int(conn.execute("SELECT count(*) FROM taggings WHERE tag = ?", (tag,)).fetchone()[0])


def delete_person(conn: sqlite3.Connection, uuid: str) -> None:
    """Remove a person and everything hanging off them."""
    conn.execute("DELETE FROM taggings WHERE person = ?", (uuid,))
    conn.execute("DELETE FROM contacts WHERE person = ?", (uuid,))
    conn.execute("DELETE FROM donations WHERE person = ?", (uuid,))
    conn.execute("DELETE FROM people WHERE uuid = ?", (uuid,))


def add_tombstone(conn: sqlite3.Connection, key: str, erased_at: str) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO tombstones (key, erased_at) VALUES (?, ?)", (key, erased_at)
    )


def has_tombstone(conn: sqlite3.Connection, key: str) -> bool:
    return conn.execute("SELECT 1 FROM tombstones WHERE key = ?", (key,)).fetchone() is not None


def count(conn: sqlite3.Connection, table: str) -> int:
    if table not in ("people", "tags", "contacts", "donations", "tombstones", "taggings"):
        raise ValueError(table)
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def uuids_for_keys(
    conn: sqlite3.Connection, column: str, values: Sequence[str]
) -> dict[str, list[str]]:
    """Local people by email or phone, many values at once (imports look up in bulk)."""
    if column not in ("email", "phone"):
        raise ValueError(column)
    found: dict[str, list[str]] = {}
    rows = select_in_chunks(
        conn, f"SELECT {column}, uuid FROM people WHERE origin IS NULL AND {column} IN ({{marks}})",
        values)
    for value, uuid in rows:
        key = value.lower() if column == "email" else value
        found.setdefault(key, []).append(uuid)
    return found


def phone_holders(conn: sqlite3.Connection,
                  phones: Sequence[str]) -> dict[str, list[tuple[str, str | None, str | None]]]:
    """Local people holding each phone, with their first and last names, many phones at
    once: phone -> [(uuid, first_name, last_name), ...] oldest first."""
    found: dict[str, list[tuple[str, str | None, str | None]]] = {}
    rows = select_in_chunks(
        conn, "SELECT phone, uuid, first_name, last_name FROM people "
        "WHERE origin IS NULL AND phone IN ({marks}) ORDER BY uuid", sorted(set(phones)))
    for phone, uuid, first, last in rows:
        found.setdefault(phone, []).append((uuid, first, last))
    return found


def existing_uuids(conn: sqlite3.Connection, uuids: Sequence[str]) -> set[str]:
    rows = select_in_chunks(
        conn, "SELECT uuid FROM people WHERE origin IS NULL AND uuid IN ({marks})", uuids)
    return {row[0] for row in rows}


def people_fields(conn: sqlite3.Connection, uuids: Sequence[str]) -> dict[str, sqlite3.Row]:
    """Many people's rows at once, by uuid (missing ones are simply absent)."""
    rows = select_in_chunks(conn, "SELECT * FROM people WHERE uuid IN ({marks})", uuids)
    return {row["uuid"]: row for row in rows}


def all_tag_ids(conn: sqlite3.Connection) -> dict[str, int]:
    return {name: int(ident) for ident, name in conn.execute("SELECT id, name FROM tags")}


def uuid_by_name_address(
    conn: sqlite3.Connection, first: str | None, last: str | None,
    address1: str | None, zip_code: str | None,
) -> str | None:
    """A local person with exactly this name and street address and no email or phone."""
    row = conn.execute(
        "SELECT uuid FROM people WHERE origin IS NULL AND last_name IS ? AND first_name IS ? "
        "AND address1 IS ? AND zip IS ? AND email IS NULL AND phone IS NULL LIMIT 1",
        (last, first, address1, zip_code),
    ).fetchone()
    return None if row is None else str(row[0])


# --- bulk load into an empty node (csvio) ---------------------------------------

# Tables whose secondary indexes an import into an empty node drops and rebuilds.
BULK_LOAD_TABLES = ("people", "taggings")
_NEW_PERSON_COLUMNS = ("uuid", *PERSON_FIELDS)


def has_people(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM people LIMIT 1").fetchone() is not None


def insert_new_people(conn: sqlite3.Connection, people: Sequence[object], now: str) -> None:
    """Insert new local people given one after the other in one flat list: for each, its
    uuid then its PERSON_FIELDS in order; created and updated `now`. Bound as they come,
    many people per statement, without a tuple made per person."""
    width = len(_NEW_PERSON_COLUMNS)
    names = ", ".join(_NEW_PERSON_COLUMNS)
    _insert_flat(conn, f"INSERT INTO people ({names}, created_at, updated_at) "
                 "SELECT *, ?, ? FROM (VALUES {rows})", width, people, (now, now))


def stage_taggings(conn: sqlite3.Connection, pairs: Sequence[object]) -> None:
    """Set taggings aside in a temporary table, given flat: a tag's name, then a person's
    uuid, one pair after the other; add_staged_taggings adds them in key order, many
    batches at a time: each tag's new people then go in one run at the end of its
    range of the (tag, person) key, instead of a few rows at every tag each batch (a
    bulk load into an empty node). The tags must exist by then."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS import_taggings (name TEXT, person TEXT)")
    _insert_flat(conn, "INSERT INTO temp.import_taggings (name, person) VALUES {rows}", 2,
                 pairs)


def _insert_flat(conn: sqlite3.Connection, sql: str, width: int, values: Sequence[object],
                 before: Sequence[object] = ()) -> None:
    """Run `sql`, whose `{rows}` becomes a VALUES list, over flat `values` (`width` a
    row), as many rows a statement as stay under SQLite's oldest limit of 999
    parameters, each statement's parameters `before` then its rows'."""
    per_statement = (999 - len(before)) // width * width
    row_marks = "(" + ", ".join("?" * width) + ")"
    full = sql.format(rows=", ".join([row_marks] * (per_statement // width)))
    for start in range(0, len(values), per_statement):
        chunk = values[start:start + per_statement]
        statement = full if len(chunk) == per_statement else sql.format(
            rows=", ".join([row_marks] * (len(chunk) // width)))
        conn.execute(statement, [*before, *chunk])


def add_staged_taggings(conn: sqlite3.Connection) -> None:
    """Add the taggings stage_taggings set aside (the triggers fire as for any other)."""
    if conn.execute("SELECT 1 FROM sqlite_temp_master WHERE name = 'import_taggings'"
                    ).fetchone() is None:
        return
    conn.execute("INSERT INTO taggings (tag, person) SELECT tags.id, staged.person "
                 "FROM temp.import_taggings AS staged JOIN tags ON tags.name = staged.name "
                 "WHERE true ORDER BY 1, 2 ON CONFLICT DO NOTHING")
    conn.execute("DROP TABLE temp.import_taggings")
