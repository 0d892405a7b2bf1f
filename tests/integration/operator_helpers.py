"""`tagshare serve` processes as an operator runs them: admin listener, logs, signals.

A `Served` is a node home plus a real `tagshare serve` subprocess on a port
picked free once (written to the config before pairing), its standard error
in a log file. The test reads the admin listener's address from the home's
`admin.json`, as `tagshare dashboard` will.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from shares_helpers import DatabaseReads, free_port

from tagshare.node.admin.listener import ADMIN_FILE
from tagshare.node.client import FederationClient
from tagshare.node.node import Node, init_node, open_node
from tagshare.node.pairing import create_invite, join

HOST = "127.0.0.1"
SERVE_CODE = "from tagshare.cli.main import main; main()"
TIMEOUT = 30.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return result


@dataclass
class Served(DatabaseReads):
    home: Path
    port: int
    scheme: str = "http"
    process: subprocess.Popen[bytes] | None = None
    _op: Node | None = field(default=None, repr=False)

    @classmethod
    def create(cls, root: Path, name: str, scheme: str = "http") -> Served:
        port = free_port()
        home = root / name.lower().replace(" ", "-")
        init_node(home, name=name, url=f"{scheme}://{HOST}:{port}").close()
        return cls(home=home, port=port, scheme=scheme)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.home.with_suffix(".log")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self, *options: str, env: dict[str, str] | None = None) -> None:
        """Serve with `options` (default admin port 0) and return once it listens."""
        admin = () if "--admin-port" in options else ("--admin-port", "0")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE_CODE, "--home", str(self.home), "serve",
                 "--host", HOST, "--port", str(self.port), *admin, *options],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env,
                cwd=Path(__file__).resolve().parents[2])
        wait_for(lambda: "listening on" in self.log_text() or self.process_ended(),
                 "serve to listen")
        assert not self.process_ended(), self.log_text()

    def process_ended(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self) -> int:
        """SIGTERM, and the exit status."""
        assert self.process is not None
        self.process.terminate()
        try:
            return self.process.wait(timeout=TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.process = None

    def admin_url(self) -> str:
        address = json.loads((self.home / ADMIN_FILE).read_text())
        return f"http://{address['host']}:{address['port']}"

    def scrape(self) -> Samples:
        """GET /metrics from the admin listener, parsed by prometheus_client's parser."""
        with urllib.request.urlopen(self.admin_url() + "/metrics", timeout=TIMEOUT) as answer:
            assert answer.status == 200
            text = answer.read().decode()
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples}

    def admin_get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.admin_url() + path, timeout=TIMEOUT) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as refused:
            with refused:
                return refused.code, refused.read().decode()

    @property
    def op(self) -> Node:
        """The operator's own connection to the node (like the CLI in another terminal)."""
        if self._op is None:
            self._op = open_node(self.home)
        return self._op

    def close(self) -> None:
        if self.process is not None:
            self.stop()
        if self._op is not None:
            self._op.close()
            self._op = None


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def pair(inviter: Served, joiner: Served, *, alias: str | None = None,
         client: FederationClient | None = None) -> dict[str, object]:
    """The real invite flow; the inviter's serve must run."""
    token = create_invite(inviter.op, timedelta(hours=1), int(time.time()))

    async def run() -> dict[str, object]:
        federation = client or FederationClient()
        try:
            return await join(joiner.op, token.encode(), alias=alias, auto_accept=False,
                              client=federation, now=int(time.time()))
        finally:
            await federation.close()

    return asyncio.run(run())
