"""SQL for coordinating field work across nodes: who was contacted, when, by whom.

One human may be several rows here: a local person and the received copies
linked to it (`link`), or a received copy nobody linked. `coalesce(link, uuid)`
names the human a row belongs to, so "contacted" means any contact, whatever
its origin, on any row of the same human.
"""

import sqlite3

# A WHERE term over people aliased `p`, with two parameters (the window's start
# twice): true when no row of p's human has a contact since then. Correlated,
# so each person costs two index probes (contacts_person, people_link) and a
# `--limit 50` list stays instant however many contacts the window holds.
NOT_CONTACTED_SINCE = (
    "NOT EXISTS (SELECT 1 FROM contacts c"
    " WHERE c.person = coalesce(p.link, p.uuid) AND c.at >= ?)"
    " AND NOT EXISTS (SELECT 1 FROM people q JOIN contacts c ON c.person = q.uuid"
    " WHERE q.link = coalesce(p.link, p.uuid) AND c.at >= ?)"
)


def overlapping_contacts(conn: sqlite3.Connection, since: str) -> list[sqlite3.Row]:
    """Contacts since `since` on humans contacted by more than one organization
    (distinct contact origins, NULL being this node), grouped by human, oldest first."""
    return conn.execute(
        "WITH recent AS ("
        " SELECT c.uuid, c.person, c.method, c.outcome, c.at, c.by, c.origin,"
        " coalesce(q.link, q.uuid) AS human"
        " FROM contacts c JOIN people q ON q.uuid = c.person WHERE c.at >= :since),"
        " shared AS (SELECT human FROM recent GROUP BY human"
        " HAVING count(DISTINCT coalesce(origin, '')) > 1)"
        " SELECT r.*, h.first_name, h.last_name, h.origin AS human_origin,"
        " pe.name AS peer_name"
        " FROM recent r JOIN shared s ON s.human = r.human"
        " JOIN people h ON h.uuid = r.human"
        " LEFT JOIN peers pe ON pe.node_id = r.origin"
        " ORDER BY r.human, r.at, r.uuid",
        {"since": since},
    ).fetchall()
