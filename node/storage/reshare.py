"""SQL for re-sharing: a share's signed grant and paths, where a received person came
from, deleted copies, and the origin's record of who holds its people."""

import sqlite3
from collections import defaultdict
from collections.abc import Sequence

from tagshare.node.storage.db import select_in_chunks


def set_terms(conn: sqlite3.Connection, share_id: str, *, reshare: str, grant: str | None,
              upstream: str) -> None:
    conn.execute("UPDATE shares SET reshare = ?, grant_signed = ?, upstream = ? WHERE id = ?",
                 (reshare, grant, upstream, share_id))


def subscriptions_filing(conn: sqlite3.Connection, tag_name: str) -> list[sqlite3.Row]:
    """Active subscriptions whose people this node files under `tag_name`."""
    return conn.execute(
        "SELECT * FROM shares WHERE direction = 'incoming' AND status = 'active' "
        "AND local_tag = ? ORDER BY id", (tag_name,)).fetchall()


def subscriptions_tagged(conn: sqlite3.Connection, tag_id: int) -> list[sqlite3.Row]:
    """Active subscriptions that brought at least one person who now carries the tag."""
    return conn.execute(
        "SELECT * FROM shares s WHERE s.direction = 'incoming' AND s.status = 'active' "
        "AND EXISTS (SELECT 1 FROM received r JOIN taggings t ON t.person = r.person "
        "WHERE r.share = s.id AND r.state = 'member' AND t.tag = ?) ORDER BY s.id",
        (tag_id,)).fetchall()


def reshares_of(conn: sqlite3.Connection, tag_name: str) -> list[sqlite3.Row]:
    """Running outgoing shares of a received tag that carry paths (they re-share it)."""
    return conn.execute(
        "SELECT * FROM shares WHERE direction = 'outgoing' AND status IN ('offered', 'active') "
        "AND tag = ? AND upstream != '[]' ORDER BY id", (tag_name,)).fetchall()


def active_reshares(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Active outgoing shares that carry paths: every tag this node re-shares."""
    return conn.execute(
        "SELECT * FROM shares WHERE direction = 'outgoing' AND status = 'active' "
        "AND upstream != '[]' AND grant_signed IS NOT NULL ORDER BY id").fetchall()


def sources_of(conn: sqlite3.Connection,
               people: Sequence[str]) -> dict[str, list[sqlite3.Row]]:
    """Per person: the subscriptions that hold them (the share's row): active ones, and
    ended ones whose terms said keep (their members stay, frozen)."""
    rows = select_in_chunks(
        conn, "SELECT r.person AS member, s.* FROM received r JOIN shares s ON s.id = r.share "
        "WHERE r.state = 'member' AND s.status IN ('active', 'revoked', 'left') "
        "AND s.direction = 'incoming' AND r.person IN ({marks}) ORDER BY s.status",
        people)
    grouped: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for row in rows:
        grouped[row["member"]].append(row)
    return grouped


def senders_of(conn: sqlite3.Connection, people: Sequence[str]) -> dict[str, set[str]]:
    """Per person: every peer that ever sent them here as a copy (any state): from their
    origin, or forwarded; not a peer that only sent its records on them back up (`ref`)."""
    rows = select_in_chunks(
        conn, "SELECT r.person, s.peer FROM received r JOIN shares s ON s.id = r.share "
        "JOIN people p ON p.uuid = r.person WHERE s.direction = 'incoming' "
        "AND (r.origin IS NOT NULL OR p.origin = s.peer) AND r.person IN ({marks})", people)
    grouped: dict[str, set[str]] = defaultdict(set)
    for person, peer in rows:
        grouped[person].add(peer)
    return grouped


def held_directly(conn: sqlite3.Connection, origin: str, people: Sequence[str]) -> set[str]:
    """The people that an active share from `origin` itself holds (not forwarded)."""
    rows = select_in_chunks(
        conn, "SELECT r.person FROM received r JOIN shares s ON s.id = r.share "
        "WHERE s.peer = ? AND s.direction = 'incoming' AND s.status = 'active' "
        "AND r.state = 'member' AND r.origin IS NULL AND r.person IN ({marks})",
        people, (origin,))
    return {row[0] for row in rows}


def set_forwarded(conn: sqlite3.Connection, share_id: str,
                  rows: Sequence[tuple[str, str]]) -> None:
    """(item uuid, origin) of items a share forwarded from another origin."""
    conn.executemany("UPDATE received SET origin = ? WHERE share = ? AND origin_uuid = ?",
                     [(origin, share_id, uuid) for uuid, origin in rows])


def note_gone(conn: sqlite3.Connection, person: str, op: str, at: str) -> None:
    conn.execute("INSERT OR REPLACE INTO gone_copies (person, op, at) VALUES (?, ?, ?)",
                 (person, op, at))


def gone_ops(conn: sqlite3.Connection, people: Sequence[str]) -> dict[str, str]:
    rows = select_in_chunks(
        conn, "SELECT person, op FROM gone_copies WHERE person IN ({marks})", people)
    return {row[0]: row[1] for row in rows}


_RELAYED_COLUMNS = {
    "contacts": ("uuid", "person", "method", "outcome", "note", "at", "by", "origin", "via"),
    "donations": ("uuid", "person", "amount_cents", "currency", "at", "origin", "via"),
}


def received_records_of(conn: sqlite3.Connection, table: str,
                        people: Sequence[str]) -> list[sqlite3.Row]:
    """Records other nodes recorded on these people (candidates to relay up the chain)."""
    if table not in _RELAYED_COLUMNS:
        raise ValueError(table)
    return select_in_chunks(
        conn, f"SELECT * FROM {table} WHERE origin IS NOT NULL AND person IN ({{marks}}) "
        "ORDER BY origin, uuid", people)


def sync_relayed_records(conn: sqlite3.Connection, table: str, author: str, via: str,
                         records_by_person: dict[str, list[dict[str, object]]]) -> None:
    """Make the records `via` relayed from `author` on each person exactly the lists given.

    Keyed by (author, uuid) like any received record; `via` can write, change or delete
    only records it relayed itself: never the receiver's own, never one the author sent
    directly (that one wins), never one another node relayed.
    """
    columns = _RELAYED_COLUMNS[table]
    existing = {row["uuid"]: row for row in select_in_chunks(
        conn, f"SELECT * FROM {table} WHERE origin = ? AND via = ? AND person IN ({{marks}})",
        list(records_by_person), (author, via))}
    wanted: dict[str, tuple[object, ...]] = {}
    for person, records in records_by_person.items():
        for record in records:
            full = {**record, "person": person, "origin": author, "via": via}
            wanted[str(record["uuid"])] = tuple(full[c] for c in columns)
    gone = [uuid for uuid in existing if uuid not in wanted]
    conn.executemany(f"DELETE FROM {table} WHERE origin = ? AND uuid = ? AND via = ?",
                     [(author, uuid, via) for uuid in gone])
    marks = ", ".join("?" * len(columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns
                        if c not in ("uuid", "origin", "via"))
    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
                     "ON CONFLICT (origin, uuid) WHERE origin IS NOT NULL "
                     f"DO UPDATE SET {updates} WHERE {table}.via = excluded.via",
                     list(wanted.values()))


def drop_relayed_except(conn: sqlite3.Connection, table: str, via: str, person: str,
                        authors: Sequence[str]) -> None:
    """`via` no longer relays any record of the other authors on this person."""
    if table not in _RELAYED_COLUMNS:
        raise ValueError(table)
    marks = ", ".join("?" * len(authors))
    keep = f" AND origin NOT IN ({marks})" if authors else ""
    conn.execute(f"DELETE FROM {table} WHERE via = ? AND person = ?{keep}",
                 (via, person, *authors))


def people_of_origin(conn: sqlite3.Connection, tag_id: int, origin: str | None) -> int:
    """How many people carrying the tag came from `origin` (None: all of them)."""
    if origin is None:
        return int(conn.execute("SELECT count(*) FROM taggings WHERE tag = ?",
                                (tag_id,)).fetchone()[0])
    return int(conn.execute(
        "SELECT count(*) FROM taggings t JOIN people p ON p.uuid = t.person "
        "WHERE t.tag = ? AND p.origin = ?", (tag_id, origin)).fetchone()[0])


def keep_notice(conn: sqlite3.Connection, row: dict[str, object]) -> None:
    """The newest notice per (origin share, re-share) wins; an older one changes nothing."""
    conn.execute(
        "INSERT INTO reach (origin_share, holder, via, share, people, fields, reshare, status, "
        "notice, at) VALUES (:origin_share, :holder, :via, :share, :people, :fields, :reshare, "
        ":status, :notice, :at) ON CONFLICT (origin_share, share) DO UPDATE SET "
        "holder = excluded.holder, via = excluded.via, people = excluded.people, "
        "fields = excluded.fields, reshare = excluded.reshare, status = excluded.status, "
        "notice = excluded.notice, at = excluded.at WHERE excluded.at >= reach.at", row)


def notices_of(conn: sqlite3.Connection, origin_share: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM reach WHERE origin_share = ? ORDER BY at, share",
                        (origin_share,)).fetchall()
