"""A three-level chain on real nodes: party -> county -> campaign (issue 15).

`three_orgs` gives the party paired with A and B; here A is the county, B the
campaign, and the county is paired with the campaign too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from shares_helpers import TAG, Org, idle, pair, settled, three_orgs, wait_until

from tagshare.node import shares


@dataclass
class Chain:
    party: Org
    county: Org
    campaign: Org

    def grant(self, granter: Org, to: Org, *, tag: str = TAG, fields: str = "name,email",
              reshare: str = "none", on_revoke: str = "purge") -> str:
        data = shares.grant_share(granter.op, tag=tag, peer=to.node_id, fields=fields,
                                  on_revoke=on_revoke, note=None, reshare_terms=reshare)
        return str(data["id"])

    async def active(self, granter: Org, to: Org, **terms: str) -> str:
        """Grant, accept on `to`, and wait until the granter owes nothing."""
        share_id = self.grant(granter, to, **terms)
        await wait_until(lambda: to.status(share_id) == "offered", message="offer arrives")
        shares.accept_share(to.op, share_id, None)
        await settled(granter, share_id)
        await wait_until(lambda: idle(to, granter.node_id), message="the accept is sent")
        return share_id

    def local_tag(self, at: Org, share_id: str) -> str:
        row = at.share(share_id)
        assert row is not None and row["local_tag"], share_id
        return str(row["local_tag"])


@asynccontextmanager
async def chain_of_three(tmp_path: Path) -> AsyncIterator[Chain]:
    async with three_orgs(tmp_path) as trio:
        await pair(trio.a, trio.b)
        yield Chain(trio.party, trio.a, trio.b)
