"""The demo's cast and settings: the nodes it plays, what each campaign gets, timings."""

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagshare.node import shares
from tagshare.node.demo_data import PeopleMaker
from tagshare.node.node import Node

HOST = "127.0.0.1"
PARTY = "Ohio Democratic Party"
START_TIMEOUT = 20.0
PORT_ATTEMPTS = 3
SYNC_TIMEOUT = 30.0
POLL_SECONDS = 0.005
STOP_GRACE_SECONDS = 5.0
SERVE_CODE = "from tagshare.cli.main import main; main()"

Say = Callable[[str], None]


@dataclass(frozen=True)
class CampaignPlan:
    name: str
    short: str
    fields: str  # what the party grants it
    trusts_party: bool  # `peer trust`: the party's offers are accepted on arrival
    shares_back: bool  # shares its field contacts on the party's volunteers back


CAMPAIGNS = (
    CampaignPlan("Rivera for State Senate", "Rivera", "all", False, True),
    CampaignPlan("Chen for Congress", "Chen", "name,phone", False, False),
    CampaignPlan("Okafor for County Commission", "Okafor", "all", True, False),
)


@dataclass
class DemoNode:
    name: str
    short: str
    home: Path
    port: int
    node: Node  # the demo's own connection: the operator's CLI, in effect
    plan: CampaignPlan | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.home.with_suffix(".log")

    @property
    def fields_note(self) -> str:
        return f" ({self.plan.fields.replace(',', ', ')} only)" if (
            self.plan and self.plan.fields != "all") else ""


@dataclass
class Demo:
    root: Path
    people: PeopleMaker
    say: Say
    nodes: list[DemoNode] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # people an earlier change already used

    @property
    def party(self) -> DemoNode:
        return self.nodes[0]

    @property
    def campaigns(self) -> list[DemoNode]:
        return self.nodes[1:]


@dataclass
class DemoResult:
    root: Path
    kept: bool
    seconds: float
    nodes: list[dict[str, Any]]
    summary: list[dict[str, Any]]


def incoming_share(subscriber: DemoNode, granter: DemoNode, tag: str) -> dict[str, Any] | None:
    for share in shares.list_shares(subscriber.node, "incoming"):
        if share["peer"] == granter.node.node_id and share["tag"] == tag:
            return share
    return None


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"
