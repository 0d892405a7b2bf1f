"""Logging in to the dashboard: one-time links, sessions and CSRF tokens.

How it works: `tagshare dashboard` (a process of its own) writes the SHA-256
of a random token into the node's database and prints
http://127.0.0.1:PORT/login/TOKEN, PORT read from the admin.json that
`serve` wrote into the home. The admin listener consumes that hash in one
statement (DELETE ... RETURNING), so a link opens one session, once, within
LOGIN_SECONDS. The session's random id lives only in an HttpOnly,
SameSite=Strict cookie; the database keeps its hash, its expiry and its CSRF
token, which every POST must carry (compared in constant time).
"""

import hashlib
import hmac
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

from tagshare.node.clock import random_bytes
from tagshare.node.errors import NodeError
from tagshare.node.node import Node
from tagshare.node.storage import dashboard as store
from tagshare.node.storage import db
from tagshare.protocol import b64u_encode

ADMIN_FILE = "admin.json"  # written by `serve` (node.admin.listener)
LOGIN_PATH = "/login/"
LOGIN_SECONDS = 300
SESSION_SECONDS = 12 * 3600
MAX_SECRET_CHARS = 100  # tokens and session ids are 43 characters


@dataclass(frozen=True)
class Session:
    id_hash: str
    csrf: str
    expires: int


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return b64u_encode(random_bytes(32))


def issue_login(node: Node, now: int) -> str:
    """A one-time login token, valid for LOGIN_SECONDS (only its hash is stored)."""
    token = _new_secret()
    with db.transaction(node.conn) as conn:
        store.forget_expired(conn, now)
        store.add_login(conn, _digest(token), now + LOGIN_SECONDS)
    return token


def login_link(node: Node, now: int) -> str:
    """The link that opens the dashboard of the `serve` running on this home."""
    return admin_base_url(node.home) + LOGIN_PATH + issue_login(node, now)


def admin_base_url(home: Path) -> str:
    """http://HOST:PORT of the running serve's admin listener, from admin.json."""
    try:
        record = json.loads((home / ADMIN_FILE).read_text())
        host, port, pid = str(record["host"]), int(record["port"]), int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        raise NodeError(f"no admin listener recorded in {home}: start `tagshare serve` "
                        "(it opens the dashboard's listener) and try again") from None
    if not _alive(pid):
        raise NodeError(f"`tagshare serve` (pid {pid}) is no longer running: start it "
                        "again and try again")
    return f"http://{_browser_host(host)}:{port}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def _browser_host(host: str) -> str:
    """Where a browser on this machine reaches a listener bound to `host`."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.is_unspecified:
        return "127.0.0.1" if address.version == 4 else "[::1]"
    return f"[{host}]" if address.version == 6 else host


def redeem_login(node: Node, token: str, now: int) -> tuple[str, Session] | None:
    """Use a login token: (the new session id, the session), or None if the token is
    unknown, used or expired."""
    if not token or len(token) > MAX_SECRET_CHARS:
        return None
    session_id = _new_secret()
    session = Session(id_hash=_digest(session_id), csrf=_new_secret(),
                      expires=now + SESSION_SECONDS)
    with db.transaction(node.conn) as conn:
        if not store.consume_login(conn, _digest(token), now):
            return None
        store.add_session(conn, session.id_hash, session.csrf, now, session.expires)
        node.audit("dashboard.login")
    return session_id, session


def find_session(node: Node, session_id: str | None, now: int) -> Session | None:
    if not session_id or len(session_id) > MAX_SECRET_CHARS:
        return None
    row = store.live_session(node.conn, _digest(session_id), now)
    if row is None:
        return None
    return Session(id_hash=row["id_hash"], csrf=row["csrf"], expires=int(row["expires"]))


def end_session(node: Node, session: Session) -> None:
    with db.transaction(node.conn) as conn:
        store.end_session(conn, session.id_hash)


def csrf_matches(session: Session, presented: object) -> bool:
    """The form's CSRF token is the session's (constant-time comparison)."""
    if not isinstance(presented, str) or len(presented) > MAX_SECRET_CHARS:
        return False
    return hmac.compare_digest(session.csrf.encode(), presented.encode())


def cookie_name(node: Node) -> str:
    """Per node: cookies ignore ports, and two nodes' dashboards may share 127.0.0.1."""
    return "tagshare_" + hashlib.sha256(node.node_id.encode()).hexdigest()[:12]
