"""OSDI sources: registered with `tagshare osdi add`, pulled by `osdi pull` or, with
`serve --osdi-pull-every`, periodically beside the server."""

import asyncio
import logging
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from tagshare.node import normalize
from tagshare.node.errors import InvalidInput, NodeError
from tagshare.node.node import Node, open_node
from tagshare.node.osdi.pull import Progress, PullReport, RunDb, pull, run_here
from tagshare.node.osdi.source import HttpSource, check_url
from tagshare.node.storage import db
from tagshare.node.storage import osdi as store

log = logging.getLogger("tagshare.osdi.pull")
T = TypeVar("T")
MAX_TOKEN = 1000


def read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the token file {path}: {exc}") from None
    if not token or len(token) > MAX_TOKEN or any(ord(ch) < 33 for ch in token):
        raise InvalidInput(f"{path} does not hold one API token on one line")
    return token


def add_source(node: Node, name: str, url: str, token_file: str) -> dict[str, str]:
    """Register (or change) source NAME; the token stays in its file, read at each pull."""
    clean = name.strip()
    if not clean or len(clean) > 100:
        raise InvalidInput(f"invalid source name {name!r}: give a short name such as an")
    base = check_url(url)
    token_path = str(Path(token_file).resolve())
    read_token_file(token_path)
    with db.transaction(node.conn) as conn:
        store.add_source(conn, clean, base, token_path)
        node.audit("osdi.source_add", name=clean, url=base)
    return {"name": clean, "url": base, "token_file": token_path}


def list_sources(node: Node) -> list[dict[str, Any]]:
    return [{"name": r["name"], "url": r["url"], "token_file": r["token_file"] or None,
             "cursor": r["cursor"], "last_pull_at": r["last_pull_at"]}
            for r in store.sources(node.conn)]


async def pull_url(node: Node, url: str, token_file: str, *, tags: list[str] | None = None,
                   since: str | None = None, run_db: RunDb[Any] = run_here,
                   progress: Progress = lambda done, total: None) -> PullReport:
    """`tagshare osdi pull`: one pull over real HTTP."""
    source = HttpSource(read_token_file(token_file))
    try:
        return await pull(node, url, source, tags=tags, since=since, run_db=run_db,
                          progress=progress)
    finally:
        await source.close()


async def alongside(main: Awaitable[T], home: Path, every: timedelta | None) -> T:
    """Run `main` (the server) with periodic pulls beside it, stopped when it ends."""
    if every is None:
        return await main
    task = asyncio.create_task(pull_forever(home, every))
    try:
        return await main
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def pull_forever(home: Path, every: timedelta) -> None:
    """Pull every registered source, then wait `every`, until cancelled. Uses a
    connection and a thread of its own, so the server's database thread never waits."""
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagshare-osdi-pull")
    loop = asyncio.get_running_loop()
    node = await loop.run_in_executor(thread, lambda: open_node(home))  # no keys needed

    async def run_db(work: Any) -> Any:
        return await loop.run_in_executor(thread, work)

    try:
        while True:
            for source in await run_db(lambda: store.sources(node.conn)):
                if not source["token_file"]:
                    continue
                try:
                    report = await pull_url(node, source["url"], source["token_file"],
                                            run_db=run_db)
                    log.info("%s", report.summary())
                except NodeError as exc:
                    log.warning("OSDI pull from %s failed: %s", source["name"], exc)
            await asyncio.sleep(every.total_seconds())
    finally:
        await run_db(node.close)
        thread.shutdown(wait=True)


def pull_interval(text: str) -> timedelta:
    every = normalize.parse_duration(text)
    if every < timedelta(minutes=1):
        raise InvalidInput("--osdi-pull-every must be at least 1m")
    return every
