"""The node's signed, published document (GET /.well-known/tagshare)."""

from node.node import Node
from protocol import NodeDocument, sign_document

DOCUMENT_VALIDITY_SECONDS = 30 * 24 * 3600


def node_document(node: Node, now: int) -> NodeDocument:
    state = node.key_state
    return sign_document(state.keys, name=node.config.name, url=node.config.url,
                         created=now, valid_until=now + DOCUMENT_VALIDITY_SECONDS,
                         links=state.chain, pull_only=not node.config.reachable)
