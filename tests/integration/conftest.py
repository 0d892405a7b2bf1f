"""Fixtures: real nodes served on 127.0.0.1 port 0, a shared fake clock, an HTTP session."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from federation_helpers import FakeClock, RunningNode, StartNode
from shares_helpers import Trio, three_orgs

from tagshare.node.node import init_node
from tagshare.node.server import create_app
from tagshare.protocol import MAX_MESSAGE_BYTES

PLACEHOLDER_URL = "http://127.0.0.1:1"


@pytest.fixture
def clock() -> FakeClock:
    """One clock for every node of a test; starts at the real time so CLI calls agree."""
    return FakeClock(int(time.time()))


@pytest.fixture
async def start_node(tmp_path: Path, clock: FakeClock) -> AsyncIterator[StartNode]:
    """`await start_node(name, max_body=...)`: a fresh node, served, its URL its real port."""
    started: list[RunningNode] = []

    async def start(name: str, *, max_body: int = MAX_MESSAGE_BYTES) -> RunningNode:
        home = tmp_path / f"node{len(started)}"
        node = init_node(home, name=name, url=PLACEHOLDER_URL)
        # No sync worker: these tests drive the server alone and use the node's own
        # connection between requests; a worker would use it from its thread meanwhile.
        runner = web.AppRunner(create_app(node, clock=clock, max_body=max_body, sync=False),
                               handle_signals=False)
        await runner.setup()
        running = RunningNode(node=node, url="", clock=clock, runner=runner)
        started.append(running)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        running.url = f"http://{host}:{port}"
        node.config = dataclasses.replace(node.config, url=running.url)
        node.config.save(node.home)
        return running

    yield start
    for running in started:
        await running.runner.cleanup()
        running.node.close()


@pytest.fixture
async def alice(start_node: StartNode) -> RunningNode:
    return await start_node("Alice Org")


@pytest.fixture
async def bob(start_node: StartNode) -> RunningNode:
    return await start_node("Bob Org")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[Trio]:
    """Party, campaign A and campaign B: served, with sync workers, the party paired with both."""
    async with three_orgs(tmp_path) as orgs:
        yield orgs
