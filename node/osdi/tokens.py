"""OSDI API tokens: created (printed once), listed, revoked, checked; all audited.

A token is `tsk_` and 43 base64url characters (256 random bits). Only its SHA-256
is stored: someone who reads the database cannot use the API with what is there.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tagshare.node import normalize
from tagshare.node.errors import InvalidInput, NotFound
from tagshare.node.node import Node
from tagshare.node.storage import api_tokens as store
from tagshare.node.storage import db

SCOPES = ("read", "write")
PREFIX = "tsk_"
MAX_NAME = 100


@dataclass(frozen=True)
class ApiToken:
    """A live token, as the API sees a request's caller."""

    name: str
    scope: str

    @property
    def can_write(self) -> bool:
        return self.scope == "write"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(node: Node, name: str, *, scope: str = "read",
                 expires: str | None = None) -> dict[str, Any]:
    """A new token NAME; the token itself is in the answer and nowhere else."""
    name = _check_name(name)
    if scope not in SCOPES:
        raise InvalidInput(f"unknown scope {scope!r}: use read or write")
    now = datetime.now(UTC)
    expires_at = normalize.iso(now + normalize.parse_duration(expires)) if expires else None
    token = PREFIX + secrets.token_urlsafe(32)
    with db.transaction(node.conn) as conn:
        existing = store.token_named(conn, name)
        if existing is not None and existing["revoked_at"] is None:
            raise InvalidInput(f"an API token named {name!r} exists: revoke it first "
                               "(`tagshare api-token revoke`) or pick another name")
        store.insert_token(conn, name=name, token_hash=token_hash(token), scope=scope,
                           created_at=normalize.iso(now), expires_at=expires_at)
        node.audit("api_token.create", name=name, scope=scope, expires_at=expires_at)
    return {"name": name, "token": token, "scope": scope}


def list_tokens(node: Node) -> list[dict[str, Any]]:
    now = normalize.now_iso()
    return [{"name": r["name"], "scope": r["scope"], "created_at": r["created_at"],
             "expires_at": r["expires_at"], "revoked_at": r["revoked_at"],
             "status": _status(r["revoked_at"], r["expires_at"], now)}
            for r in store.all_tokens(node.conn)]


def _status(revoked_at: str | None, expires_at: str | None, now: str) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def revoke_token(node: Node, name: str) -> None:
    with db.transaction(node.conn) as conn:
        if not store.revoke_token(conn, name, normalize.now_iso()):
            raise NotFound(f"no active API token named {name!r}: see `tagshare api-token list`")
        node.audit("api_token.revoke", name=name)


def check_token(node: Node, presented: str | None) -> ApiToken | None:
    """The live token presented, or None (missing, unknown, revoked or expired)."""
    if not presented or len(presented) > 200:
        return None
    row = store.token_by_hash(node.conn, token_hash(presented), normalize.now_iso())
    return None if row is None else ApiToken(row["name"], row["scope"])


def api_enabled(node: Node) -> bool:
    """Whether any live token exists: with none, the API answers 404 to everything."""
    return store.has_live_token(node.conn, normalize.now_iso())


def audit_write(node: Node, token: ApiToken, method: str, resource: str) -> None:
    """A write made with a write token, in the audit log."""
    with db.transaction(node.conn):
        node.audit("osdi.write", token=token.name, method=method, resource=resource)


def _check_name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        raise InvalidInput(f"invalid token name {raw!r}: give a short name such as parsons")
    return name
