"""The node's signed, published document (GET /.well-known/tagshare)."""

from tagshare.node.node import Node
from tagshare.node.tls import served_tls
from tagshare.protocol import NodeDocument, sign_document
from tagshare.protocol.snapshot import SNAPSHOT_CAPABILITY

DOCUMENT_VALIDITY_SECONDS = 30 * 24 * 3600


def node_document(node: Node, now: int) -> NodeDocument:
    state = node.key_state
    return sign_document(state.keys, name=node.config.name, url=node.config.url,
                         created=now, valid_until=now + DOCUMENT_VALIDITY_SECONDS,
                         links=state.chain, pull_only=not node.config.reachable,
                         tls_sha256=tls_pin(node), capabilities=(SNAPSHOT_CAPABILITY,))


def tls_pin(node: Node) -> str | None:
    """The fingerprint of the certificate this node serves itself: the one `serve` was
    given, else the home's tls.crt when the URL is https://; None behind a proxy."""
    if node.tls_sha256 is not None:
        return node.tls_sha256
    files = served_tls(node.home, node.config.url)
    return files.sha256 if files is not None else None
