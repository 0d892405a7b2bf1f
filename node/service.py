"""Running a node: the HTTP server (and the sync worker) until SIGINT or SIGTERM."""

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable

from aiohttp import web

from node.backup import PID_FILE
from node.errors import NodeError
from node.node import Node
from node.serve_lock import holding_home
from node.server import create_app

log = logging.getLogger("tagshare.serve")


async def serve(node: Node, host: str, port: int, *, listen: bool = True,
                on_ready: Callable[[str], None] = lambda url: None) -> None:
    """Serve (and sync) until a stop signal, then shut down cleanly.

    Without `listen` no port is opened: the sync worker pushes to peers and
    pulls from granters, for a node nobody can reach. Another `serve` (or a `restore`)
    on the same home is refused for as long as this one runs.
    """
    with holding_home(node.home, "serve"):
        await _serve_locked(node, host, port, listen=listen, on_ready=on_ready)


async def _serve_locked(node: Node, host: str, port: int, *, listen: bool,
                        on_ready: Callable[[str], None]) -> None:
    pull = not listen or not node.config.reachable
    app = create_app(node, pull=pull)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    ready = "(not listening: pulling from granters)"
    if listen:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise NodeError(f"cannot listen on {host}:{port} ({exc.strerror}): "
                            "is another node running? pass another --port") from None
        bound = runner.addresses[0]
        ready = f"http://{bound[0]}:{bound[1]}"
    pid_file = node.home / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n")  # for people and scripts; the lock is the guard
    on_ready(ready)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()
        with contextlib.suppress(OSError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()
