"""SQL for matching review: ambiguous received people, their candidates, and decisions."""

import sqlite3
from collections.abc import Sequence

from tagshare.node.storage.db import select_in_chunks


def reviews_of(conn: sqlite3.Connection, people: Sequence[str]) -> dict[str, sqlite3.Row]:
    """The review rows (ambiguous or decided) of these received people, by person."""
    rows = select_in_chunks(conn, "SELECT * FROM match_reviews WHERE person IN ({marks})", people)
    return {row["person"]: row for row in rows}


def record_ambiguous(conn: sqlite3.Connection, at: str,
                     cases: Sequence[tuple[str, str, Sequence[tuple[str, str]]]]) -> None:
    """(person, reason, [(candidate, matched_on), ...]) for many people at once: received
    people left unlinked, or imported rows added apart from the people they might be."""
    if not cases:
        return
    conn.executemany(
        "INSERT OR REPLACE INTO match_reviews (person, state, local, at, reason) "
        "VALUES (?, 'ambiguous', NULL, ?, ?)", [(person, at, why) for person, why, _ in cases])
    conn.executemany("DELETE FROM match_candidates WHERE person = ?",
                     [(person,) for person, _, _ in cases])
    conn.executemany(
        "INSERT INTO match_candidates (person, candidate, matched_on) VALUES (?, ?, ?)",
        [(person, candidate, on) for person, _, found in cases for candidate, on in found])


def clear_reviews(conn: sqlite3.Connection, people: Sequence[str]) -> None:
    """Forget reviews and candidates of these people (no longer ambiguous)."""
    conn.executemany("DELETE FROM match_reviews WHERE person = ?", [(p,) for p in people])
    conn.executemany("DELETE FROM match_candidates WHERE person = ?", [(p,) for p in people])


def decide(conn: sqlite3.Connection, person: str, *, state: str, local: str | None,
           at: str) -> None:
    """Remember the operator's decision for a person under review and set its link to
    match (a local person's link stays NULL: `local` is None for them)."""
    conn.execute("INSERT OR REPLACE INTO match_reviews (person, state, local, at) "
                 "VALUES (?, ?, ?, ?)", (person, state, local, at))
    conn.execute("DELETE FROM match_candidates WHERE person = ?", (person,))
    conn.execute("UPDATE people SET link = ? WHERE uuid = ?", (local, person))


def ambiguous_cases(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Each undecided ambiguous person (received, or an imported local row), oldest first,
    with its origin's peer name."""
    return conn.execute(
        "SELECT p.uuid, p.origin, p.first_name, p.last_name, p.email, p.phone, r.at,"
        " r.reason, pe.name AS peer_name"
        " FROM match_reviews r JOIN people p ON p.uuid = r.person"
        " LEFT JOIN peers pe ON pe.node_id = p.origin"
        " WHERE r.state = 'ambiguous' ORDER BY r.at, p.uuid"
    ).fetchall()


def candidates_of(conn: sqlite3.Connection, people: Sequence[str]) -> list[sqlite3.Row]:
    """The local candidates of these received people that still exist."""
    return select_in_chunks(
        conn,
        "SELECT m.person, m.matched_on, p.uuid, p.first_name, p.last_name, p.email, p.phone"
        " FROM match_candidates m JOIN people p ON p.uuid = m.candidate"
        " WHERE m.person IN ({marks}) ORDER BY m.person, p.uuid", people)


def received_by_key(conn: sqlite3.Connection, column: str, value: str) -> list[str]:
    """Received people (not local ones) with this email or phone."""
    if column not in ("email", "phone"):
        raise ValueError(column)
    return [row[0] for row in conn.execute(
        f"SELECT uuid FROM people WHERE {column} = ? AND origin IS NOT NULL ORDER BY uuid",
        (value,))]


def under_review(conn: sqlite3.Connection, person: str) -> bool:
    """Whether this person has an undecided ambiguous review."""
    return conn.execute("SELECT 1 FROM match_reviews WHERE person = ? AND state = 'ambiguous'",
                        (person,)).fetchone() is not None
