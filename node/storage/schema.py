"""Versioned schema: a list of migrations, applied in order, recorded in user_version.

A database whose user_version is higher than the last migration here was
written by a newer tagshare: it is refused untouched. Before upgrading an
existing database we copy it aside (`<file>.pre-v<N>.bak`) with SQLite's
online backup, so a failed upgrade never costs data.
"""

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tagshare.node.errors import SchemaTooNew
from tagshare.node.storage import search

MIGRATION_1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE people (
    uuid TEXT PRIMARY KEY,
    origin TEXT,
    origin_uuid TEXT,
    first_name TEXT,
    last_name TEXT,
    email TEXT COLLATE NOCASE,
    phone TEXT,
    address1 TEXT,
    address2 TEXT,
    city TEXT,
    state TEXT,
    zip TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX people_email ON people(email) WHERE email IS NOT NULL;
CREATE INDEX people_phone ON people(phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX people_origin ON people(origin, origin_uuid) WHERE origin IS NOT NULL;
CREATE INDEX people_name ON people(last_name, first_name);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE taggings (
    tag INTEGER NOT NULL REFERENCES tags(id),
    person TEXT NOT NULL REFERENCES people(uuid),
    PRIMARY KEY (tag, person)
) WITHOUT ROWID;
CREATE INDEX taggings_person ON taggings(person);

CREATE TABLE contacts (
    uuid TEXT PRIMARY KEY,
    person TEXT NOT NULL REFERENCES people(uuid),
    method TEXT NOT NULL,
    outcome TEXT,
    note TEXT,
    at TEXT NOT NULL,
    by TEXT,
    origin TEXT
);
CREATE INDEX contacts_person ON contacts(person, at);
CREATE INDEX contacts_at ON contacts(at);

CREATE TABLE donations (
    uuid TEXT PRIMARY KEY,
    person TEXT NOT NULL REFERENCES people(uuid),
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    at TEXT NOT NULL,
    origin TEXT
);
CREATE INDEX donations_person ON donations(person, at);

CREATE TABLE tombstones (
    key TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""

MIGRATION_2 = """
CREATE TABLE peers (
    node_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    alias TEXT,
    url TEXT NOT NULL,
    box_key TEXT NOT NULL,
    document TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')),
    auto_accept INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL,
    removed_at TEXT
);
CREATE UNIQUE INDEX peers_alias ON peers(alias) WHERE alias IS NOT NULL AND status = 'active';

CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires INTEGER NOT NULL,
    used_at TEXT,
    used_by TEXT
);

CREATE TABLE pairing_failures (
    at INTEGER NOT NULL
);

CREATE TABLE inbox_seen (
    sender TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (sender, message_id)
) WITHOUT ROWID;
CREATE INDEX inbox_seen_at ON inbox_seen(received_at);
"""

# Shares, the transactional outbox and what subscribers received. The triggers
# write a pending row for every (active outgoing share, person) that a change
# touches, in the writer's own transaction, whoever the writer is. Rows
# collapse per (share, person); `version` comes from one node-wide counter, so
# a later change always carries a higher version.
MIGRATION_3 = """
CREATE TABLE shares (
    id TEXT PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    peer TEXT NOT NULL,
    tag TEXT NOT NULL,
    tag_id INTEGER,
    local_tag TEXT,
    fields TEXT NOT NULL,
    on_revoke TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL
        CHECK (status IN ('offered', 'active', 'declined', 'revoked', 'left')),
    epoch TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0,
    pull INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_delivery_at TEXT,
    last_error TEXT
);
CREATE INDEX shares_tag ON shares(tag_id, direction, status);
CREATE INDEX shares_peer ON shares(peer);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('change', 0);

CREATE TABLE pending (
    share TEXT NOT NULL,
    person TEXT NOT NULL,
    version INTEGER NOT NULL,
    inflight INTEGER,
    PRIMARY KEY (share, person)
) WITHOUT ROWID;
CREATE INDEX pending_ready ON pending(share, inflight);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    peer TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX outbox_peer ON outbox(peer, id);

CREATE TABLE delivery (
    peer TEXT PRIMARY KEY,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_success_at TEXT,
    last_error TEXT,
    parked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE received (
    share TEXT NOT NULL,
    origin_uuid TEXT NOT NULL,
    version INTEGER NOT NULL,
    person TEXT,
    state TEXT NOT NULL CHECK (state IN ('member', 'withdrawn', 'erased')),
    PRIMARY KEY (share, origin_uuid)
) WITHOUT ROWID;
CREATE INDEX received_person ON received(person);

ALTER TABLE people ADD COLUMN link TEXT;
CREATE INDEX people_link ON people(link) WHERE link IS NOT NULL;

CREATE TRIGGER pending_tagging_added AFTER INSERT ON taggings
WHEN EXISTS (SELECT 1 FROM shares s WHERE s.tag_id = NEW.tag
             AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, NEW.person, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM shares s WHERE s.tag_id = NEW.tag
        AND s.direction = 'outgoing' AND s.status = 'active';
END;
CREATE TRIGGER pending_tagging_removed AFTER DELETE ON taggings
WHEN EXISTS (SELECT 1 FROM shares s WHERE s.tag_id = OLD.tag
             AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, OLD.person, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM shares s WHERE s.tag_id = OLD.tag
        AND s.direction = 'outgoing' AND s.status = 'active';
END;
CREATE TRIGGER pending_person_changed AFTER UPDATE ON people
WHEN EXISTS (SELECT 1 FROM taggings t JOIN shares s ON s.tag_id = t.tag
             WHERE t.person = NEW.uuid AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, NEW.uuid, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM taggings t JOIN shares s ON s.tag_id = t.tag
        WHERE t.person = NEW.uuid AND s.direction = 'outgoing' AND s.status = 'active';
END;
CREATE TRIGGER pending_contact_added AFTER INSERT ON contacts
WHEN EXISTS (SELECT 1 FROM taggings t JOIN shares s ON s.tag_id = t.tag
             WHERE t.person = NEW.person AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, NEW.person, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM taggings t JOIN shares s ON s.tag_id = t.tag
        WHERE t.person = NEW.person AND s.direction = 'outgoing' AND s.status = 'active';
END;
CREATE TRIGGER pending_contact_changed AFTER UPDATE ON contacts
WHEN EXISTS (SELECT 1 FROM taggings t JOIN shares s ON s.tag_id = t.tag
             WHERE t.person = NEW.person AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, NEW.person, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM taggings t JOIN shares s ON s.tag_id = t.tag
        WHERE t.person = NEW.person AND s.direction = 'outgoing' AND s.status = 'active';
END;
CREATE TRIGGER pending_contact_removed AFTER DELETE ON contacts
WHEN EXISTS (SELECT 1 FROM taggings t JOIN shares s ON s.tag_id = t.tag
             WHERE t.person = OLD.person AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, OLD.person, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM taggings t JOIN shares s ON s.tag_id = t.tag
        WHERE t.person = OLD.person AND s.direction = 'outgoing' AND s.status = 'active';
END;
CREATE TRIGGER pending_donation_added AFTER INSERT ON donations
WHEN EXISTS (SELECT 1 FROM taggings t JOIN shares s ON s.tag_id = t.tag
             WHERE t.person = NEW.person AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, NEW.person, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM taggings t JOIN shares s ON s.tag_id = t.tag
        WHERE t.person = NEW.person AND s.direction = 'outgoing' AND s.status = 'active';
END;
CREATE TRIGGER pending_donation_changed AFTER UPDATE ON donations
WHEN EXISTS (SELECT 1 FROM taggings t JOIN shares s ON s.tag_id = t.tag
             WHERE t.person = NEW.person AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, NEW.person, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM taggings t JOIN shares s ON s.tag_id = t.tag
        WHERE t.person = NEW.person AND s.direction = 'outgoing' AND s.status = 'active';
END;
CREATE TRIGGER pending_donation_removed AFTER DELETE ON donations
WHEN EXISTS (SELECT 1 FROM taggings t JOIN shares s ON s.tag_id = t.tag
             WHERE t.person = OLD.person AND s.direction = 'outgoing' AND s.status = 'active')
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT OR REPLACE INTO pending (share, person, version, inflight)
        SELECT s.id, OLD.person, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM taggings t JOIN shares s ON s.tag_id = t.tag
        WHERE t.person = OLD.person AND s.direction = 'outgoing' AND s.status = 'active';
END;
"""

# Versioned terms of a share: `share edit` proposes the next version; the old
# terms keep flowing until the subscriber accepts.
MIGRATION_4 = """
ALTER TABLE shares ADD COLUMN terms_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE shares ADD COLUMN proposed TEXT;
CREATE TABLE share_terms (
    share TEXT NOT NULL,
    version INTEGER NOT NULL,
    fields TEXT NOT NULL,
    on_revoke TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    accepted_at TEXT,
    PRIMARY KEY (share, version)
) WITHOUT ROWID;
INSERT INTO share_terms (share, version, fields, on_revoke, proposed_at, accepted_at)
    SELECT id, 1, fields, on_revoke, created_at, created_at FROM shares;
"""

# Matching review. A received person whose email or phone points at more than
# one local person is left unlinked and recorded here as 'ambiguous' with its
# candidates; the operator's decision ('linked' to `local`, or kept 'apart')
# is remembered so later updates from the granter do not undo it. No row means
# matched automatically, or matched nobody. Rows go when their people do.
MIGRATION_5 = """
CREATE TABLE match_reviews (
    person TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('ambiguous', 'linked', 'apart')),
    local TEXT,
    at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX match_reviews_local ON match_reviews(local) WHERE local IS NOT NULL;
CREATE INDEX match_reviews_state ON match_reviews(state);

CREATE TABLE match_candidates (
    person TEXT NOT NULL,
    candidate TEXT NOT NULL,
    matched_on TEXT NOT NULL,
    PRIMARY KEY (person, candidate)
) WITHOUT ROWID;
CREATE INDEX match_candidates_candidate ON match_candidates(candidate);

CREATE TRIGGER match_person_deleted AFTER DELETE ON people
BEGIN
    DELETE FROM match_reviews WHERE person = OLD.uuid;
    DELETE FROM match_reviews WHERE local = OLD.uuid;
    DELETE FROM match_candidates WHERE person = OLD.uuid;
    DELETE FROM match_candidates WHERE candidate = OLD.uuid;
END;
"""

# Full resends: the granter remembers the epoch of a resend in progress; the
# subscriber records, per received person, the epoch it last came under, so
# that when the resend completes (share.synced) whoever it lacked is dropped.
MIGRATION_6 = """
ALTER TABLE shares ADD COLUMN resync_epoch TEXT;
ALTER TABLE received ADD COLUMN epoch TEXT;
"""


def _pending_trigger(name: str, table: str, event: str, person: str, source: str,
                     condition: str, guard: str = "") -> str:
    """An outbox trigger that survives the writer's own conflict clause.

    An outer INSERT OR IGNORE would turn a trigger's INSERT OR REPLACE into an
    IGNORE (SQLite hands the outer algorithm down), silently keeping a stale
    pending row; an upsert clause is not overridden that way. `guard`, when given,
    is a cheaper condition asked first.
    """
    return f"""
DROP TRIGGER IF EXISTS {name};
CREATE TRIGGER {name} AFTER {event} ON {table}
WHEN {guard}EXISTS (SELECT 1 FROM {source} WHERE {condition})
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'change';
    INSERT INTO pending (share, person, version, inflight)
        SELECT s.id, {person}, (SELECT value FROM counters WHERE name = 'change'), NULL
        FROM {source} WHERE {condition}
        ON CONFLICT (share, person) DO UPDATE SET version = excluded.version, inflight = NULL;
END;
"""


_ACTIVE = "s.direction = 'outgoing' AND s.status = 'active'"
# (trigger, table, event, the person it changes) of the contacts' and donations' triggers
_RECORD_TRIGGERS = (
    ("pending_contact_added", "contacts", "INSERT", "NEW.person"),
    ("pending_contact_changed", "contacts", "UPDATE", "NEW.person"),
    ("pending_contact_removed", "contacts", "DELETE", "OLD.person"),
    ("pending_donation_added", "donations", "INSERT", "NEW.person"),
    ("pending_donation_changed", "donations", "UPDATE", "NEW.person"),
    ("pending_donation_removed", "donations", "DELETE", "OLD.person"),
)


def _tagged_triggers(triggers: tuple[tuple[str, str, str, str], ...]) -> str:
    """Outbox triggers on a row of a person: a pending change for every active outgoing
    share of a tag the person carries.

    Finding the person's tags reads a page of `taggings_person`, a random one on a large
    node, for every person written; a node that shares nothing out (a subscriber) skips
    that read on the guard: a 1,000-person live batch on a 1,000,000-person subscriber
    spent a quarter of its `UPDATE people` there.
    """
    return "".join(
        _pending_trigger(name, table, event, ref, "taggings t JOIN shares s ON s.tag_id = t.tag",
                         f"t.person = {ref} AND {_ACTIVE}",
                         guard=f"EXISTS (SELECT 1 FROM shares s WHERE {_ACTIVE}) AND ")
        for name, table, event, ref in triggers)


def _outbox_triggers() -> str:
    return "".join([
        _pending_trigger("pending_tagging_added", "taggings", "INSERT", "NEW.person",
                         "shares s", f"s.tag_id = NEW.tag AND {_ACTIVE}"),
        _pending_trigger("pending_tagging_removed", "taggings", "DELETE", "OLD.person",
                         "shares s", f"s.tag_id = OLD.tag AND {_ACTIVE}"),
        _tagged_triggers((("pending_person_changed", "people", "UPDATE", "NEW.uuid"),
                          *_RECORD_TRIGGERS)),
    ])


# The outbox triggers again, as upserts (see _pending_trigger).
MIGRATION_7 = _outbox_triggers()

# Key rotation: a peer's current signing key, when it is no longer its node id.
MIGRATION_8 = """
ALTER TABLE peers ADD COLUMN signing_key TEXT;
"""

# No query reads people by name in index order (`people list` orders by uuid, `--search`
# is a substring match), so the name index only cost time on every insert and name
# change (importing 1,000,000 rows into an empty node: 24.0 s without it, 25.2 s with).
MIGRATION_9 = """
DROP INDEX IF EXISTS people_name;
"""

# The OSDI door (docs/osdi.md). API tokens: only a SHA-256 of each token is kept
# (a token is 256 random bits, so a fast hash is enough). OSDI sources this node pulls
# from, each with its modified_date cursor; the source's identifier of each person
# pulled (so a rerun updates, never duplicates), and the taggings a pull made (so a
# tagging removed at the source is removed here, and nothing the operator tagged).
MIGRATION_10 = """
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS osdi_sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    token_file TEXT NOT NULL,
    cursor TEXT,
    last_pull_at TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS osdi_identifiers (
    source TEXT NOT NULL,
    remote TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (source, remote)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS osdi_taggings (
    source TEXT NOT NULL,
    tag TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (source, tag, person)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS osdi_person_deleted AFTER DELETE ON people
BEGIN
    DELETE FROM osdi_identifiers WHERE person = OLD.uuid;
    DELETE FROM osdi_taggings WHERE person = OLD.uuid;
END;
"""


# A record's uuid is chosen by the node that originated it, so with `uuid` as the
# primary key a peer could name the uuid of a record of ours (or of another peer's)
# and replace, move or delete it. Now the node's own records (origin NULL) are unique
# by uuid and each peer's by (origin, uuid). The tables are rebuilt (SQLite cannot
# change a primary key); dropping a table drops its triggers, so they come back.
MIGRATION_11 = """
CREATE TABLE contacts_keyed (
    uuid TEXT NOT NULL,
    person TEXT NOT NULL REFERENCES people(uuid),
    method TEXT NOT NULL,
    outcome TEXT,
    note TEXT,
    at TEXT NOT NULL,
    by TEXT,
    origin TEXT
);
INSERT INTO contacts_keyed (uuid, person, method, outcome, note, at, by, origin)
    SELECT uuid, person, method, outcome, note, at, by, origin FROM contacts;
DROP TABLE contacts;
ALTER TABLE contacts_keyed RENAME TO contacts;
CREATE UNIQUE INDEX contacts_own ON contacts(uuid) WHERE origin IS NULL;
CREATE UNIQUE INDEX contacts_received ON contacts(uuid, origin) WHERE origin IS NOT NULL;
CREATE INDEX contacts_person ON contacts(person, at);
CREATE INDEX contacts_at ON contacts(at);

CREATE TABLE donations_keyed (
    uuid TEXT NOT NULL,
    person TEXT NOT NULL REFERENCES people(uuid),
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    at TEXT NOT NULL,
    origin TEXT
);
INSERT INTO donations_keyed (uuid, person, amount_cents, currency, at, origin)
    SELECT uuid, person, amount_cents, currency, at, origin FROM donations;
DROP TABLE donations;
ALTER TABLE donations_keyed RENAME TO donations;
CREATE UNIQUE INDEX donations_own ON donations(uuid) WHERE origin IS NULL;
CREATE UNIQUE INDEX donations_received ON donations(uuid, origin) WHERE origin IS NOT NULL;
CREATE INDEX donations_person ON donations(person, at);
""" + _tagged_triggers(_RECORD_TRIGGERS)  # the triggers of MIGRATION_7 again

# What a peer may change about itself, and what it may make this node keep: the name a
# peer announces (pairing again, key.rotate) is kept apart from the name the operator
# knows it by; when a subscriber last had a full resend started (resyncs are
# rate-limited); and when a withdraw or erase named someone the share never brought
# here (`unseen_at`, unix seconds: such a row only keeps a reordered older upsert out,
# and is forgotten once no such batch can arrive any more).
MIGRATION_12 = """
ALTER TABLE peers ADD COLUMN announced TEXT;
ALTER TABLE shares ADD COLUMN resync_at TEXT;
ALTER TABLE received ADD COLUMN unseen_at INTEGER;
CREATE INDEX received_unseen ON received(share, unseen_at) WHERE unseen_at IS NOT NULL;
"""

# Matching review of imported rows too: an import row without an email whose phone is
# held by several people (or by one person of another name) is added as a new local
# person and recorded as 'ambiguous' with the holders as candidates; `reason` says why,
# in words for the operator (NULL on reviews written before this migration).
MIGRATION_13 = """
ALTER TABLE match_reviews ADD COLUMN reason TEXT;
"""

# Pairing failures are counted per invite and per source address, not node-wide (a
# stranger locked everyone out of pairing); the claimed node key is kept for the operator.
# The old rows (a node-wide count, no source) are short-lived and dropped.
MIGRATION_14 = """
DROP TABLE IF EXISTS pairing_failures;
CREATE TABLE pairing_failures (
    at INTEGER NOT NULL,
    source TEXT NOT NULL,
    node_id TEXT,
    invite_id TEXT
);
CREATE INDEX pairing_failures_source ON pairing_failures(source, at);
CREATE TABLE IF NOT EXISTS invite_failures (
    invite_id TEXT PRIMARY KEY,
    failures INTEGER NOT NULL
);
"""

# Full-text search of people (`people search`): sqlite-utils' FTS5 index over name,
# email, phone and city, kept current by triggers, and purged of erased people (see
# node/storage/search.py). A function, not SQL: sqlite-utils writes the index and its
# triggers, inside this migration's transaction.
MIGRATION_15 = search.enable_people_search

# The dashboard: one-time login links and browser sessions, each stored only as a
# SHA-256 hash (`tagshare dashboard` writes a link, the admin listener of `serve`
# consumes it); and since when delivery to each failing peer has been failing.
# Only new tables (IF NOT EXISTS), so it can run again on a database that has them.
MIGRATION_16 = """
CREATE TABLE IF NOT EXISTS dashboard_logins (
    token_hash TEXT PRIMARY KEY,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dashboard_sessions (
    id_hash TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS delivery_failing (
    peer TEXT PRIMARY KEY,
    since TEXT NOT NULL
) WITHOUT ROWID;
"""

# `tagshare invite --name ALIAS`: the alias the node that pairs with the invite gets here.
# A function that adds the column only where it is missing, so that it is independent of
# the migrations around it.
def MIGRATION_17(conn: sqlite3.Connection) -> None:  # noqa: N802 - named like its siblings
    columns = {row[1] for row in conn.execute("PRAGMA table_info(invites)")}
    if "alias" not in columns:
        conn.execute("ALTER TABLE invites ADD COLUMN alias TEXT")


# Re-sharing (issue 15): a share's re-share permission, its signed grant (ours for an
# outgoing share, the granter's for an incoming one) and the signed paths of what it
# re-shares (protocol/reshare.py); per received row, the origin of a forwarded item
# (NULL: the share's peer); per received contact or donation, the node that relayed it
# up the chain (NULL: its author sent it); which deleted copies were withdrawn rather
# than erased, so that a re-share passes a withdraw on as a withdraw; and the origin's
# view of who holds its people through re-shares (signed notices).
_RESHARE_TABLES = """
CREATE TABLE IF NOT EXISTS gone_copies (
    person TEXT PRIMARY KEY,
    op TEXT NOT NULL CHECK (op IN ('withdraw', 'erase')),
    at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reach (
    origin_share TEXT NOT NULL,
    holder TEXT NOT NULL,
    via TEXT NOT NULL,
    share TEXT NOT NULL,
    people INTEGER NOT NULL,
    fields TEXT NOT NULL,
    reshare TEXT NOT NULL,
    status TEXT NOT NULL,
    notice TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (origin_share, share)
) WITHOUT ROWID;
"""


def _add_resharing(conn: sqlite3.Connection) -> None:
    """Adds only what is missing, so it can run again on a database that has it."""
    for table, column, declaration in (
        ("shares", "reshare", "TEXT NOT NULL DEFAULT 'none'"),
        ("shares", "grant_signed", "TEXT"),
        ("shares", "upstream", "TEXT NOT NULL DEFAULT '[]'"),
        ("received", "origin", "TEXT"),
        ("contacts", "via", "TEXT"),
        ("donations", "via", "TEXT"),
    ):
        if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    for statement in _statements(_RESHARE_TABLES):
        conn.execute(statement)


MIGRATION_18 = _add_resharing

# The outbox triggers on a person's rows again, each asking first whether the node
# shares anything out at all (see _tagged_triggers).
MIGRATION_19 = _tagged_triggers((("pending_person_changed", "people", "UPDATE", "NEW.uuid"),
                                 *_RECORD_TRIGGERS))

# A migration is a SQL script, or a function that runs inside the migration's transaction.
Migration = str | Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = [
    MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4, MIGRATION_5, MIGRATION_6, MIGRATION_7,
    MIGRATION_8, MIGRATION_9, MIGRATION_10, MIGRATION_11, MIGRATION_12, MIGRATION_13,
    MIGRATION_14, MIGRATION_15, MIGRATION_16, MIGRATION_17, MIGRATION_18, MIGRATION_19,
]
LATEST = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_not_newer(conn: sqlite3.Connection, path: Path) -> None:
    version = current_version(conn)
    if version > LATEST:
        raise SchemaTooNew(
            f"{path} has schema version {version}, but this tagshare knows only up to "
            f"{LATEST}: upgrade tagshare (the database was left untouched)"
        )


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to LATEST, one migration per transaction."""
    check_not_newer(conn, path)
    version = current_version(conn)
    if version == LATEST:
        return
    if version > 0:
        _backup_before_upgrade(conn, path, version)
    for number in range(version + 1, LATEST + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) >= number:  # another process got there first
                conn.execute("ROLLBACK")
                continue
            _apply(conn, MIGRATIONS[number - 1])
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    if callable(migration):
        migration(conn)
        return
    for statement in _statements(migration):
        conn.execute(statement)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (each ends with ';' outside a trigger body)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _backup_before_upgrade(conn: sqlite3.Connection, path: Path, version: int) -> None:
    target = path.with_name(f"{path.name}.pre-v{version}.bak")
    if target.exists():
        return
    with sqlite3.connect(target) as copy:
        conn.backup(copy)
    copy.close()
    target.chmod(0o600)
