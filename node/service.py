"""Running a node: the HTTP server (and the sync worker) until SIGINT or SIGTERM.

Beside the federation listener runs the admin listener (metrics; loopback
only unless told otherwise). Readiness goes to systemd (sd_notify) once both
listen.
"""

import asyncio
import contextlib
import logging
import os
import resource
import signal
import ssl
from collections.abc import Callable

from aiohttp import web

from tagshare.node import systemd
from tagshare.node.admin import NodeMetrics
from tagshare.node.admin.listener import AdminAddress, admin_url, forget_admin, start_admin
from tagshare.node.backup import PID_FILE
from tagshare.node.errors import NodeError
from tagshare.node.node import Node
from tagshare.node.oplog import DebugAccessLogger
from tagshare.node.serve_lock import holding_home
from tagshare.node.server import DB_THREAD, create_app
from tagshare.node.tls import TlsFiles

log = logging.getLogger("tagshare.serve")
LOOPBACK_ADMIN = AdminAddress()
OPEN_FILES_WANTED = 8192  # a socket per peer each way, the database files, with room to spare


def raise_open_files_limit(get: Callable[[int], tuple[int, int]] = resource.getrlimit,
                           set_: Callable[[int, tuple[int, int]], None] = resource.setrlimit,
                           ) -> int:
    """Raise the soft limit on open files towards the hard one (a node with hundreds of
    peers holds a connection to each and one from each; many distributions start a
    process at 1024). Never lowers it; the limit in force afterwards."""
    soft, hard = get(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard,
                                                                          OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            set_(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit from %s: %s", soft, exc)
            return soft
        return wanted
    return soft


async def serve(node: Node, host: str, port: int, *, listen: bool = True,
                admin: AdminAddress | None = LOOPBACK_ADMIN, tls: TlsFiles | None = None,
                on_ready: Callable[[str | None], None] = lambda url: None) -> None:
    """Serve (and sync) until a stop signal, then shut down cleanly.

    Without `listen` no federation port is opened: the sync worker pushes to
    peers and pulls from granters, for a node nobody can reach. `admin` None
    opens no admin listener. `tls`: serve HTTPS with these files (given, or the
    home's when the node's URL is https://); their fingerprint goes into the document.
    Another `serve` (or a `restore`) on the same home is refused for as long as this one
    runs.
    """
    raise_open_files_limit()
    with holding_home(node.home, "serve"):
        await _serve_locked(node, host, port, listen=listen, admin=admin, tls=tls,
                            on_ready=on_ready)


async def _serve_locked(node: Node, host: str, port: int, *, listen: bool,
                        admin: AdminAddress | None, tls: TlsFiles | None,
                        on_ready: Callable[[str | None], None]) -> None:
    pull = not listen or not node.config.reachable
    ssl_context = tls.server_context() if tls is not None else None
    if tls is not None:
        node.tls_sha256 = tls.sha256
        if not node.config.url.startswith("https://"):
            log.warning("serving HTTPS, but the node's URL %s is not https://: peers will "
                        "not reach it", node.config.url)
    metrics = NodeMetrics()
    app = create_app(node, pull=pull, telemetry=metrics)
    runner = web.AppRunner(app, handle_signals=False, access_log_class=DebugAccessLogger)
    await runner.setup()
    admin_runner: web.AppRunner | None = None
    try:
        url = await _listen(runner, host, port, ssl_context) if listen else None
        if admin is not None:
            federation_port = int(runner.addresses[0][1]) if listen else port
            admin_runner = await start_admin(node, metrics, app[DB_THREAD], admin,
                                             federation_port)
            log.info("admin listener (metrics) on %s", admin_url(admin_runner),
                     extra={"admin_url": admin_url(admin_runner)})
    except BaseException:
        await runner.cleanup()
        raise
    await _run_until_stopped(node, runner, admin_runner, on_ready, url)


async def _listen(runner: web.AppRunner, host: str, port: int,
                  ssl_context: ssl.SSLContext | None) -> str:
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    except OSError as exc:
        raise NodeError(f"cannot listen on {host}:{port} ({exc.strerror}): "
                        "is another node running? pass another --port") from None
    bound = runner.addresses[0]
    return f"{'https' if ssl_context else 'http'}://{bound[0]}:{bound[1]}"


async def _run_until_stopped(node: Node, runner: web.AppRunner,
                             admin_runner: web.AppRunner | None,
                             on_ready: Callable[[str | None], None], url: str | None) -> None:
    pid_file = node.home / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n")  # for people and scripts; the lock is the guard
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    on_ready(url)  # None: no port (`--no-listen`)
    systemd.notify(f"READY=1\nSTATUS=serving {url or 'without listening'}")
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        systemd.notify("STOPPING=1")
        if admin_runner is not None:
            await admin_runner.cleanup()
            forget_admin(node.home)
        await runner.cleanup()
        with contextlib.suppress(OSError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()
