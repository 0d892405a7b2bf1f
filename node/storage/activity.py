"""SQL for field contacts and donations."""

import sqlite3


def insert_contact(conn: sqlite3.Connection, row: dict[str, object]) -> None:
    conn.execute(
        "INSERT INTO contacts (uuid, person, method, outcome, note, at, by, origin) "
        "VALUES (:uuid, :person, :method, :outcome, :note, :at, :by, :origin)",
        {"origin": None, **row},
    )


def insert_donation(conn: sqlite3.Connection, row: dict[str, object]) -> None:
    conn.execute(
        "INSERT INTO donations (uuid, person, amount_cents, currency, at, origin) "
        "VALUES (:uuid, :person, :amount_cents, :currency, :at, :origin)",
        {"origin": None, **row},
    )


def contacts_of(conn: sqlite3.Connection, person: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM contacts WHERE person = ? ORDER BY at, uuid", (person,)
    ).fetchall()


def donations_of(conn: sqlite3.Connection, person: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM donations WHERE person = ? ORDER BY at, uuid", (person,)
    ).fetchall()
