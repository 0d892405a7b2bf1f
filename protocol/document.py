"""The node document, published at ``GET /.well-known/tagshare``.

It binds a node id to a name, a URL, an X25519 encryption key and the
protocol versions the node speaks, signed by the node itself and valid
until ``valid_until`` (unix seconds). A node nobody can reach says so with
``"pull_only": true`` (the key is absent otherwise): its peers never push to
it and hand everything out when it pulls. ``capabilities`` (absent when empty)
names optional message forms the node accepts, e.g. ``share.snapshot``
(protocol/snapshot.py); a peer sends such a form only to a node that names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tagshare.protocol import _fields as f
from tagshare.protocol.encoding import (
    PROTOCOL_VERSION,
    b64u_decode,
    b64u_encode,
    canonical_json,
    parse_json,
)
from tagshare.protocol.errors import (
    BadSignature,
    LocalProtocolError,
    MalformedMessage,
    StaleMessage,
)
from tagshare.protocol.keys import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    NodeKeys,
    is_node_id,
    verify_signature,
)
from tagshare.protocol.rotation import KeyLink, current_key, links_from

MAX_NAME_CHARS = 200
MAX_URL_CHARS = 2048
MAX_DOCUMENT_BYTES = 64 * 1024

_URL_RE = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_WIRE_KEYS = frozenset(
    {"node", "name", "url", "box_key", "versions", "created", "valid_until", "signature"}
)
# Each optional key is present only when it says something.
_OPTIONAL_KEYS = frozenset({"keys", "pull_only", "tls_sha256", "capabilities"})
MAX_CAPABILITIES = 16
_CAPABILITY_RE = re.compile(r"^[a-z][a-z0-9.-]{0,39}$")


def check_url(value: object, what: str = "url") -> str:
    url = f.check_str(value, what, min_len=8, max_len=MAX_URL_CHARS)
    if not _URL_RE.fullmatch(url):  # `$` alone would let a trailing newline in
        raise LocalProtocolError(f"{what} must start with http:// or https://, no spaces")
    return url


def check_tls_sha256(value: object) -> str:
    """A certificate fingerprint: SHA-256 of its DER bytes, 64 lowercase hex digits."""
    digest = f.check_str(value, "tls_sha256", min_len=64, max_len=64)
    if not _SHA256_RE.match(digest):
        raise LocalProtocolError("tls_sha256 must be 64 lowercase hex digits")
    return digest


def check_capabilities(value: object) -> None:
    """Names of optional forms: at most MAX_CAPABILITIES, each short lowercase, sorted and
    unique (names this node does not know are kept: they cost nothing)."""
    if not isinstance(value, tuple) or len(value) > MAX_CAPABILITIES:
        raise LocalProtocolError(f"capabilities must be a tuple of at most {MAX_CAPABILITIES}")
    for name in value:
        if not isinstance(name, str) or not _CAPABILITY_RE.fullmatch(name):
            raise LocalProtocolError("a capability is 1..40 of a-z, 0-9, '.', '-'")
    if list(value) != sorted(set(value)):
        raise LocalProtocolError("capabilities must be sorted and unique")


@dataclass(frozen=True)
class NodeDocument:
    node_id: str
    name: str
    url: str
    box_key: str
    versions: tuple[int, ...]
    created: int
    valid_until: int
    signature: str = ""
    keys: tuple[KeyLink, ...] = ()  # the key chain, once the node rotated its key
    pull_only: bool = False  # nobody can reach `url`: peers must not push, it pulls
    tls_sha256: str | None = None  # SHA-256 of the node's own TLS certificate, to pin
    capabilities: tuple[str, ...] = ()  # optional forms it accepts, sorted, unique

    def __post_init__(self) -> None:
        if not is_node_id(self.node_id):
            raise LocalProtocolError("node_id must be base64url of a 32-byte key")
        f.check_text(self.name, "name", max_len=MAX_NAME_CHARS)
        check_url(self.url)
        f.check_b64(self.box_key, KEY_BYTES, "box_key")
        if not isinstance(self.versions, tuple) or not self.versions:
            raise LocalProtocolError("versions must be a non-empty tuple")
        for version in self.versions:
            f.check_int(version, "version", minimum=1)
        if len(set(self.versions)) != len(self.versions):
            raise LocalProtocolError("versions must not repeat")
        f.check_int(self.created, "created")
        f.check_int(self.valid_until, "valid_until")
        if self.valid_until <= self.created:
            raise LocalProtocolError("valid_until must be after created")
        if self.signature != "":
            f.check_b64(self.signature, SIGNATURE_BYTES, "signature")
        if not isinstance(self.keys, tuple) or not all(isinstance(k, KeyLink) for k in self.keys):
            raise LocalProtocolError("keys must be a tuple of KeyLink")
        if not isinstance(self.pull_only, bool):
            raise LocalProtocolError("pull_only must be a bool")
        if self.tls_sha256 is not None:
            check_tls_sha256(self.tls_sha256)
        check_capabilities(self.capabilities)

    @property
    def box_public(self) -> bytes:
        return b64u_decode(self.box_key)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "node": self.node_id,
            "name": self.name,
            "url": self.url,
            "box_key": self.box_key,
            "versions": list(self.versions),
            "created": self.created,
            "valid_until": self.valid_until,
            "signature": self.signature,
        }
        if self.keys:
            data["keys"] = [link.to_dict() for link in self.keys]
        if self.pull_only:
            data["pull_only"] = True
        if self.tls_sha256 is not None:
            data["tls_sha256"] = self.tls_sha256
        if self.capabilities:
            data["capabilities"] = list(self.capabilities)
        return data

    def signed_bytes(self) -> bytes:
        """The signature input: canonical JSON of the wire form minus ``signature``."""
        unsigned = self.to_dict()
        del unsigned["signature"]
        return canonical_json(unsigned)

    @classmethod
    def from_dict(cls, data: object) -> NodeDocument:
        """Strictly validate a peer's document (it must carry a signature)."""
        optional = frozenset(data).intersection(_OPTIONAL_KEYS) if isinstance(data, dict) else ()
        obj = f.require_object(data, _WIRE_KEYS.union(optional), "node document")
        links = links_from(obj["keys"]) if "keys" in obj else ()
        if "pull_only" in obj and obj["pull_only"] is not True:
            raise MalformedMessage("pull_only is written only as true")
        versions = []
        for item in f.get_list(obj, "versions"):
            if isinstance(item, bool) or not isinstance(item, int):
                raise MalformedMessage("versions must be integers")
            versions.append(item)
        capabilities = tuple(f.get_list(obj, "capabilities")) if "capabilities" in obj else ()
        if "capabilities" in obj and not capabilities:
            raise MalformedMessage("capabilities is written only when it names some")
        signature = f.get_str(obj, "signature")
        if signature == "":
            raise MalformedMessage("node document is not signed")
        document = f.build(
            lambda: cls(
                node_id=f.get_str(obj, "node"),
                name=f.get_str(obj, "name"),
                url=f.get_str(obj, "url"),
                box_key=f.get_str(obj, "box_key"),
                versions=tuple(versions),
                created=f.get_int(obj, "created"),
                valid_until=f.get_int(obj, "valid_until"),
                signature=signature,
                keys=links,
                pull_only="pull_only" in obj,
                tls_sha256=f.get_str(obj, "tls_sha256") if "tls_sha256" in obj else None,
                capabilities=capabilities,  # type: ignore[arg-type]
            )
        )
        # One measure wherever a document travels (its own GET, inside /pair, pair.*,
        # key.rotate): the canonical JSON of the whole document, signature included.
        if len(canonical_json(document.to_dict())) > MAX_DOCUMENT_BYTES:
            raise MalformedMessage(f"node document over {MAX_DOCUMENT_BYTES} bytes")
        return document


def sign_document(
    keys: NodeKeys,
    *,
    name: str,
    url: str,
    created: int,
    valid_until: int,
    versions: tuple[int, ...] = (PROTOCOL_VERSION,),
    links: tuple[KeyLink, ...] = (),
    pull_only: bool = False,
    tls_sha256: str | None = None,
    capabilities: tuple[str, ...] = (),
) -> NodeDocument:
    """The node's document, signed with its current key (``links`` lead there);
    ``tls_sha256`` pins the TLS certificate the node serves itself, if any."""
    unsigned = NodeDocument(
        node_id=keys.node_id,
        name=name,
        url=url,
        box_key=keys.box_public_b64,
        versions=versions,
        created=created,
        valid_until=valid_until,
        keys=links,
        pull_only=pull_only,
        tls_sha256=tls_sha256,
        capabilities=capabilities,
    )
    signature = b64u_encode(keys.sign(unsigned.signed_bytes()))
    return replace(unsigned, signature=signature)


def verify_document(
    doc: NodeDocument, *, now: int, expected_node_id: str | None = None
) -> None:
    """BadSignature if forged or not ``expected_node_id``'s; StaleMessage if expired."""
    verify_document_signature(doc, expected_node_id=expected_node_id)
    if now > doc.valid_until:
        raise StaleMessage("node document has expired")


def verify_document_signature(doc: NodeDocument, *, expected_node_id: str | None = None) -> None:
    """BadSignature if forged or not ``expected_node_id``'s (validity not checked)."""
    if expected_node_id is not None and doc.node_id != expected_node_id:
        raise BadSignature("node document belongs to another node")
    if doc.signature == "":
        raise BadSignature("node document is not signed")
    verify_signature(current_key(doc.node_id, doc.keys), doc.signed_bytes(),
                     b64u_decode(doc.signature))


def parse_document(raw: bytes) -> NodeDocument:
    """Bytes of a node document -> NodeDocument (shape only; see verify_document)."""
    return NodeDocument.from_dict(parse_json(raw, max_bytes=MAX_DOCUMENT_BYTES))
