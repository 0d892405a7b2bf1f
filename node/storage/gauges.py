"""SQL for the gauges the admin listener's /metrics reads at scrape time."""

import sqlite3


def people_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM people").fetchone()[0])


def share_counts(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """(direction, status, shares) for every pair that has at least one share."""
    return conn.execute(
        "SELECT direction, status, count(*) AS shares FROM shares "
        "GROUP BY direction, status ORDER BY direction, status").fetchall()


def pending_per_share(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """(share, peer, owed) for every active outgoing share, zero included: an alert on
    "owed > 0 for 10 minutes" needs the series to exist while nothing is owed."""
    return conn.execute(
        "SELECT s.id AS share, coalesce(p.alias, p.name, s.peer) AS peer, "
        "(SELECT count(*) FROM pending WHERE pending.share = s.id) AS owed "
        "FROM shares s LEFT JOIN peers p ON p.node_id = s.peer "
        "WHERE s.direction = 'outgoing' AND s.status = 'active' ORDER BY s.id").fetchall()


def failed_attempts_per_peer(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """(peer, attempts): failed delivery attempts in a row, per active peer (0 when the
    last attempt succeeded or none was needed)."""
    return conn.execute(
        "SELECT coalesce(p.alias, p.name) AS peer, coalesce(d.attempts, 0) AS attempts "
        "FROM peers p LEFT JOIN delivery d ON d.peer = p.node_id "
        "WHERE p.status = 'active' ORDER BY peer").fetchall()
