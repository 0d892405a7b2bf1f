"""node/reach.refresh on a node that re-shares nothing: it runs in every quiet spell of
every serving node, so there it must queue nothing and write nothing. (What it sends
where re-shares run is tested on real nodes in tests/integration/test_reshare_reach.py.)"""

from __future__ import annotations

from tagshare.node import reach
from tagshare.node.node import open_node


def test_a_node_that_re_shares_nothing_writes_nothing(node) -> None:
    node.add("--first-name", "Ann", "--tag", "volunteers")
    opened = open_node(node.home)
    try:
        before = opened.conn.total_changes
        assert reach.refresh(opened) == 0
        assert opened.conn.total_changes == before
        assert not opened.conn.in_transaction
        assert opened.reach_told == {}
    finally:
        opened.close()
    assert node.count("outbox") == 0
