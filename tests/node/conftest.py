"""One node in a real home folder under tmp_path, driven through the real CLI."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tagshare.cli.main import cli


class Tagshare:
    """Runs `tagshare --home HOME ...` in-process and checks how it ended."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def run(self, *args: str, env: dict[str, str | None] | None = None,
            home: bool = True, input: str | None = None) -> Result:
        argv = [*args, "--home", str(self.home)] if home else list(args)
        return self.runner.invoke(cli, argv, env=env, input=input, catch_exceptions=True)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self.run(*args, **kwargs)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"tagshare {' '.join(args)} raised {result.exception!r}\n{result.output}"
        )
        assert result.exit_code == 0, f"tagshare {' '.join(args)}:\n{result.output}"
        return result

    def fails(self, *args: str, code: int = 1, **kwargs: Any) -> str:
        """Run a command that must fail cleanly; returns its stderr."""
        result = self.run(*args, **kwargs)
        assert isinstance(result.exception, SystemExit), (
            f"tagshare {' '.join(args)} escaped with {result.exception!r} instead of "
            f"a clean error\n{result.output}"
        )
        assert result.exit_code == code, f"exit {result.exit_code}:\n{result.output}"
        assert "Traceback" not in result.output
        if code == 1:
            lines = result.stderr.strip().splitlines()
            assert lines and lines[-1].startswith("Error: "), result.stderr
        return result.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def add(self, *options: str) -> str:
        """`people add` with the given options; returns the new uuid."""
        return self.ok("people", "add", *options).stdout.strip()

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """The node's database, opened directly for checking what is stored."""
        with closing(sqlite3.connect(self.home / "node.db")) as conn:
            conn.row_factory = sqlite3.Row
            yield conn

    def count(self, table: str) -> int:
        with self.db() as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture
def fresh(tmp_path: Path) -> Tagshare:
    """A CLI pointed at a home folder that does not exist yet."""
    return Tagshare(tmp_path / "home")


@pytest.fixture
def node(fresh: Tagshare) -> Tagshare:
    """A CLI pointed at a freshly initialized node."""
    fresh.ok("init", "--name", "Ohio Senate 12")
    return fresh


@pytest.fixture
async def osdi(tmp_path: Path, aiohttp_client: Any) -> Any:
    """A node served (no sync worker) with a read and a write OSDI token."""
    from osdi_helpers import Api, make_tokens

    from tagshare.node.node import init_node
    from tagshare.node.server import create_app

    home = tmp_path / "osdi-node"
    served = init_node(home, name="Ohio Senate 12")
    client = await aiohttp_client(create_app(served, sync=False))
    api = Api(client=client, node=served, home=home)
    make_tokens(api)
    yield api
    served.close()
