"""Starting the admin listener next to the federation one, and recording where it is.

`serve` writes `admin.json` (host, port, pid) into the node home once the
admin listener is bound, so that `tagshare dashboard` finds it without
options, and removes it at a clean exit.
"""

import contextlib
import ipaddress
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from tagshare.node.admin.app import create_admin_app
from tagshare.node.admin.metrics import NodeMetrics
from tagshare.node.errors import NodeError
from tagshare.node.home import write_private
from tagshare.node.node import Node
from tagshare.node.oplog import DebugAccessLogger

ADMIN_FILE = "admin.json"
DEFAULT_ADMIN_HOST = "127.0.0.1"

log = logging.getLogger("tagshare.serve")


@dataclass(frozen=True)
class AdminAddress:
    """Where to listen; `port` None means the default: the federation port + 1, or, if
    that is taken, any free port (with a warning)."""

    host: str = DEFAULT_ADMIN_HOST
    port: int | None = None


def default_admin_port(federation_port: int) -> int:
    return federation_port + 1 if 0 < federation_port < 65535 else 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def start_admin(node: Node, metrics: NodeMetrics, db_thread: ThreadPoolExecutor,
                      address: AdminAddress, federation_port: int) -> web.AppRunner:
    """Bind the admin listener and record it in the home; NodeError if it cannot bind."""
    if not is_loopback(address.host):
        log.warning("the admin listener on %s is reachable from other machines: /metrics "
                    "needs no login; keep it behind a firewall", address.host)
    runner = web.AppRunner(create_admin_app(node, metrics, db_thread), handle_signals=False,
                           access_log_class=DebugAccessLogger)
    await runner.setup()
    port = address.port if address.port is not None else default_admin_port(federation_port)
    try:
        await _bind(runner, address.host, port, fallback=address.port is None)
    except OSError as exc:
        await runner.cleanup()
        raise NodeError(f"cannot listen for the admin listener on {address.host}:{port} "
                        f"({exc.strerror}): pass another --admin-port") from None
    host, bound = runner.addresses[0][:2]
    record_admin(node.home, host, bound)
    return runner


async def _bind(runner: web.AppRunner, host: str, port: int, *, fallback: bool) -> None:
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        if not fallback or port == 0:
            raise
        log.warning("admin port %d is taken: the admin listener uses a free port instead "
                    "(pass --admin-port to fix it)", port)
        await web.TCPSite(runner, host, 0).start()


def admin_url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def record_admin(home: Path, host: str, port: int) -> None:
    write_private(home / ADMIN_FILE,
                  json.dumps({"host": host, "port": port, "pid": os.getpid()}) + "\n")


def forget_admin(home: Path) -> None:
    with contextlib.suppress(OSError):
        (home / ADMIN_FILE).unlink()
