"""Re-sharing down a hierarchy: signed grants, paths of grants, and item chains.

A granter signs the terms of every share it grants (a `Grant`). A subscriber
that re-shares what it received passes the signed grants that brought the data
to it (a *path*: origin -> ... -> the sender) in its own offer, so the next
node can check, without trusting the middle nodes, that the origin allowed
re-sharing, with which fields, and on what terms:

    path  = (origin's grant to N1, N1's grant to N2, ..., N(k)'s grant to receiver)
    check: each signature verifies; each grant's subscriber is the next granter;
           each middle node held the permission to pass it on; the fields only
           narrow along the path.

An item forwarded along a path carries a `Provenance` (origin node, origin's
uuid, the nodes it passed through), which must name one of the share's paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from tagshare.protocol import _fields as f
from tagshare.protocol.encoding import b64u_decode, b64u_encode, canonical_json
from tagshare.protocol.errors import LocalProtocolError, MalformedMessage, RemoteProtocolError
from tagshare.protocol.keys import SIGNATURE_BYTES, NodeKeys, is_node_id, verify_signature
from tagshare.protocol.rotation import KeyLink, current_key, links_from

RESHARE = ("none", "narrower", "same")
MAX_HOPS = 8  # grants in one path: origin plus at most seven re-sharing nodes
MAX_PATHS = 64  # paths in one offer
_GRANT_KEYS = frozenset({"granter", "subscriber", "share", "tag", "fields", "on_revoke",
                         "reshare", "keys", "signature"})
_FIELD_GROUPS = ("name", "email", "phone", "address", "contacts", "donations")


class NotPermitted(RemoteProtocolError):
    """A path, chain or notice that does not verify or that its origin did not allow."""

    default_code = "forbidden"


def passed_on(permission: str) -> str:
    """The most a node holding `permission` may grant onward: `same` passes `same` on,
    `narrower` passes only `none` (one more hop), `none` passes nothing."""
    if permission == "same":
        return "same"
    if permission == "narrower":
        return "none"
    raise LocalProtocolError("no permission to pass on")


def at_most(permission: str, limit: str) -> str:
    return RESHARE[min(RESHARE.index(permission), RESHARE.index(limit))]


def check_reshare(value: object) -> str:
    if value not in RESHARE:
        raise LocalProtocolError("reshare must be none, narrower or same")
    return str(value)


def _check_fields(fields: object) -> tuple[str, ...]:
    if not isinstance(fields, tuple) or not fields:
        raise LocalProtocolError("fields must be a non-empty tuple")
    if any(name not in _FIELD_GROUPS for name in fields):
        raise LocalProtocolError("unknown field group")
    if list(fields) != sorted(set(fields), key=_FIELD_GROUPS.index):
        raise LocalProtocolError("fields must be unique and in canonical order")
    return fields


@dataclass(frozen=True)
class Grant:
    """A granter's signed statement of one share's terms (granter -> subscriber)."""

    granter: str
    subscriber: str
    share: str
    tag: str
    fields: tuple[str, ...]
    on_revoke: str
    reshare: str
    keys: tuple[KeyLink, ...]  # the granter's key chain (empty until it rotates)
    signature: str

    def __post_init__(self) -> None:
        for name in ("granter", "subscriber"):
            if not is_node_id(getattr(self, name)):
                raise LocalProtocolError(f"{name} must be a node id")
        if self.granter == self.subscriber:
            raise LocalProtocolError("a node does not grant to itself")
        from tagshare.protocol.shares import check_uuid
        check_uuid(self.share, "share")
        f.check_text(self.tag, "tag", max_len=100)
        _check_fields(self.fields)
        if self.on_revoke not in ("purge", "keep"):
            raise LocalProtocolError("on_revoke must be purge or keep")
        check_reshare(self.reshare)
        if not isinstance(self.keys, tuple) or not all(isinstance(k, KeyLink) for k in self.keys):
            raise LocalProtocolError("keys must be a tuple of key links")
        f.check_b64(self.signature, SIGNATURE_BYTES, "signature")

    def terms(self) -> dict[str, object]:
        return {"granter": self.granter, "subscriber": self.subscriber, "share": self.share,
                "tag": self.tag, "fields": list(self.fields), "on_revoke": self.on_revoke,
                "reshare": self.reshare}

    def verify(self) -> None:
        """NotPermitted unless the granter's current key (walking its chain) signed it."""
        try:
            key = current_key(self.granter, self.keys)
            verify_signature(key, grant_input(self.terms()), b64u_decode(self.signature))
        except RemoteProtocolError as exc:
            raise NotPermitted(f"grant of share {self.share} does not verify: "
                               f"{exc.message}") from exc

    def to_dict(self) -> dict[str, object]:
        return {**self.terms(), "keys": [link.to_dict() for link in self.keys],
                "signature": self.signature}

    @classmethod
    def from_dict(cls, data: object) -> Self:
        obj = f.require_object(data, _GRANT_KEYS, "grant")
        keys = links_from(obj["keys"])
        return f.build(lambda: cls(
            granter=f.get_str(obj, "granter"), subscriber=f.get_str(obj, "subscriber"),
            share=f.get_str(obj, "share"), tag=f.get_str(obj, "tag"),
            fields=tuple(f.get_list(obj, "fields")),  # type: ignore[arg-type]
            on_revoke=f.get_str(obj, "on_revoke"), reshare=f.get_str(obj, "reshare"),
            keys=keys, signature=f.get_str(obj, "signature")))


def grant_input(terms: dict[str, object]) -> bytes:
    return canonical_json({"type": "share.grant", **terms})


def make_grant(keys: NodeKeys, chain: tuple[KeyLink, ...], *, subscriber: str, share: str,
               tag: str, fields: tuple[str, ...], on_revoke: str, reshare: str) -> Grant:
    terms: dict[str, object] = {
        "granter": keys.node_id, "subscriber": subscriber, "share": share, "tag": tag,
        "fields": list(fields), "on_revoke": on_revoke, "reshare": reshare}
    return Grant(granter=keys.node_id, subscriber=subscriber, share=share, tag=tag,
                 fields=fields, on_revoke=on_revoke, reshare=reshare, keys=chain,
                 signature=b64u_encode(keys.sign(grant_input(terms))))


@dataclass(frozen=True)
class Reach:
    """What a verified path gives the node at its end."""

    origin: str
    via: tuple[str, ...]  # the nodes the data passed through, ending with the sender
    fields: tuple[str, ...]  # at most these groups may arrive through the path
    reshare: str  # what the node at the end may pass on
    on_revoke: str  # purge if any grant on the path says purge


def check_path(grants: tuple[Grant, ...]) -> Reach:
    """Verify a path of grants from its origin to the node at its end, or NotPermitted."""
    if not grants or len(grants) > MAX_HOPS:
        raise MalformedMessage(f"a path holds 1 to {MAX_HOPS} grants")
    seen = {grants[0].granter}
    for before, after in zip(grants, grants[1:], strict=False):
        if before.subscriber != after.granter:
            raise NotPermitted("path is broken: a grant's subscriber is not the next granter")
        if after.subscriber in seen:
            raise NotPermitted("path goes round in a circle")
        seen.add(after.granter)
    for grant in grants:
        grant.verify()
    permission, fields = grants[0].reshare, set(grants[0].fields)
    for grant in grants[1:]:
        if permission == "none":
            raise NotPermitted(f"{grant.granter} re-shared {grants[0].tag!r} of "
                               f"{grants[0].granter} without permission (reshare none)")
        permission = at_most(grant.reshare, passed_on(permission))
        fields &= set(grant.fields)
    if not fields:
        raise NotPermitted("no field survives along the path")
    purge = any(grant.on_revoke == "purge" for grant in grants)
    return Reach(origin=grants[0].granter, via=tuple(g.granter for g in grants[1:]),
                 fields=tuple(g for g in _FIELD_GROUPS if g in fields), reshare=permission,
                 on_revoke="purge" if purge else "keep")


def paths_from(value: object) -> tuple[tuple[Grant, ...], ...]:
    """A list of paths (each a list of grants), parsed strictly."""
    if not isinstance(value, list) or len(value) > MAX_PATHS:
        raise MalformedMessage(f"upstream must be a list of at most {MAX_PATHS} paths")
    paths = []
    for path in value:
        if not isinstance(path, list) or not path or len(path) > MAX_HOPS - 1:
            raise MalformedMessage(f"a path holds 1 to {MAX_HOPS - 1} grants")
        paths.append(tuple(Grant.from_dict(grant) for grant in path))
    return tuple(paths)


def paths_to_list(paths: tuple[tuple[Grant, ...], ...]) -> list[list[dict[str, object]]]:
    return [[grant.to_dict() for grant in path] for path in paths]


@dataclass(frozen=True)
class Provenance:
    """Where a forwarded item comes from: its origin node and uuid, and each node it passed
    through (the last is the sender)."""

    origin: str
    uuid: str
    via: tuple[str, ...]

    def __post_init__(self) -> None:
        from tagshare.protocol.shares import check_uuid
        if not is_node_id(self.origin):
            raise LocalProtocolError("chain origin must be a node id")
        check_uuid(self.uuid, "chain uuid")
        if (not isinstance(self.via, tuple) or not 1 <= len(self.via) < MAX_HOPS
                or not all(is_node_id(node) for node in self.via)):
            raise LocalProtocolError(f"chain via must hold 1 to {MAX_HOPS - 1} node ids")
        if len({self.origin, *self.via}) != len(self.via) + 1:
            raise LocalProtocolError("chain names a node twice")

    def to_dict(self) -> dict[str, object]:
        return {"origin": self.origin, "uuid": self.uuid, "via": list(self.via)}

    @classmethod
    def from_dict(cls, data: object) -> Self:
        obj = f.require_object(data, frozenset({"origin", "uuid", "via"}), "chain")
        return f.build(lambda: cls(
            origin=f.get_str(obj, "origin"), uuid=f.get_str(obj, "uuid"),
            via=tuple(f.get_list(obj, "via"))))  # type: ignore[arg-type]


_NOTICE_KEYS = frozenset({"path", "people", "status", "at", "keys", "signature"})
NOTICE_STATUSES = ("offered", "active", "declined", "revoked", "left")


@dataclass(frozen=True)
class Notice:
    """A re-sharing node's signed word to the origin: "I granted your people onward".

    ``path`` runs from the origin's grant to the notifier's own grant to the holder (its
    last grant, signed by the notifier); ``people`` is how many of the origin's people
    the share carried at ``at`` (unix seconds), ``status`` the share's status then.
    """

    path: tuple[Grant, ...]
    people: int
    status: str
    at: int
    keys: tuple[KeyLink, ...]
    signature: str

    def __post_init__(self) -> None:
        if (not isinstance(self.path, tuple) or not 2 <= len(self.path) <= MAX_HOPS
                or not all(isinstance(g, Grant) for g in self.path)):
            raise LocalProtocolError(f"a notice's path holds 2 to {MAX_HOPS} grants")
        f.check_int(self.people, "people")
        if self.status not in NOTICE_STATUSES:
            raise LocalProtocolError("unknown notice status")
        f.check_int(self.at, "at")
        if not isinstance(self.keys, tuple) or not all(isinstance(k, KeyLink) for k in self.keys):
            raise LocalProtocolError("keys must be a tuple of key links")
        f.check_b64(self.signature, SIGNATURE_BYTES, "signature")

    @property
    def notifier(self) -> str:
        return self.path[-1].granter

    def signed_part(self) -> dict[str, object]:
        return {"type": "share.reach", "path": [g.to_dict() for g in self.path],
                "people": self.people, "status": self.status, "at": self.at}

    def verify(self) -> Reach:
        """NotPermitted unless the path holds and the notifier signed the notice."""
        reach = check_path(self.path)
        try:
            key = current_key(self.notifier, self.keys)
            verify_signature(key, canonical_json(self.signed_part()), b64u_decode(self.signature))
        except RemoteProtocolError as exc:
            raise NotPermitted(f"notice does not verify: {exc.message}") from exc
        return reach

    def to_dict(self) -> dict[str, object]:
        return {"path": [g.to_dict() for g in self.path], "people": self.people,
                "status": self.status, "at": self.at,
                "keys": [link.to_dict() for link in self.keys], "signature": self.signature}

    @classmethod
    def from_dict(cls, data: object) -> Self:
        obj = f.require_object(data, _NOTICE_KEYS, "notice")
        raw = f.get_list(obj, "path")
        if not 2 <= len(raw) <= MAX_HOPS:
            raise MalformedMessage(f"a notice's path holds 2 to {MAX_HOPS} grants")
        path = tuple(Grant.from_dict(grant) for grant in raw)
        keys = links_from(obj["keys"])
        return f.build(lambda: cls(path=path, people=f.get_int(obj, "people"),
                                   status=f.get_str(obj, "status"), at=f.get_int(obj, "at"),
                                   keys=keys, signature=f.get_str(obj, "signature")))


def make_notice(keys: NodeKeys, chain: tuple[KeyLink, ...], *, path: tuple[Grant, ...],
                people: int, status: str, at: int) -> Notice:
    unsigned = Notice(path=path, people=people, status=status, at=at, keys=chain,
                      signature=b64u_encode(bytes(SIGNATURE_BYTES)))
    signature = keys.sign(canonical_json(unsigned.signed_part()))
    return Notice(path=path, people=people, status=status, at=at, keys=chain,
                  signature=b64u_encode(signature))
