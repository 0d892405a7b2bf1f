"""`tagshare peer remove`: remove a peer here, and tell it, so that it shows this node as
removed too instead of failing against it without knowing why."""

from tagshare.node.client import FederationClient
from tagshare.node.courier import Courier
from tagshare.node.errors import NodeError
from tagshare.node.node import Node
from tagshare.node.peer_text import peer_text
from tagshare.node.peers import pulls_only, remove_peer, resolve_peer
from tagshare.node.storage import peers as store
from tagshare.protocol import PeerRemove, ProtocolError


async def remove_and_tell(node: Node, ref: str,
                          client: FederationClient) -> tuple[dict[str, object], str | None]:
    """Send `peer.remove` to PEER, then remove it here whatever the answer. Returns the
    removed peer and, when the peer could not be told, why (None: it was told)."""
    row = store.get_peer(node.conn, resolve_peer(node.conn, ref))
    assert row is not None
    why_not: str | None = None
    if pulls_only(row):
        why_not = "it cannot be reached (it pulls from this node)"
    else:
        try:
            await Courier(node, client).send(row, PeerRemove())
        except NodeError as exc:
            why_not = str(exc)
        except ProtocolError as exc:
            why_not = f"its answer was refused: {peer_text(exc)}"
    return remove_peer(node, row["node_id"]), why_not
