"""Keys sealed with a passphrase: written sealed, refused without it, opened with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from node.keystore import PassphraseNeeded, load_keys
from node.node import init_node, open_node


def _run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path]:
    secret = tmp_path / "pass.txt"
    secret.write_text("correct horse battery staple\n")
    home = tmp_path / "node"
    result = _run("--home", str(home), "init", "--name", "Sealed", "--passphrase-file",
                  str(secret))
    assert result.exit_code == 0, result.output
    return home, secret


def test_sealed_keys_hold_no_secret_in_clear(sealed: tuple[Path, Path]) -> None:
    home, _ = sealed
    data = json.loads((home / "keys.json").read_text())
    assert data["format"] == "tagshare-keys-v1+argon2id"
    assert "signing_seed" not in data and "box_secret" not in data
    assert (home / "keys.json").stat().st_mode & 0o777 == 0o600


def test_without_the_passphrase_the_node_does_not_start(sealed: tuple[Path, Path]) -> None:
    home, _ = sealed
    result = _run("--home", str(home), "serve", "--port", "0")
    assert result.exit_code == 1
    assert "protected by a passphrase" in result.output
    assert "Traceback" not in result.output


def test_a_wrong_passphrase_is_refused(sealed: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = sealed
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase at all\n")
    result = _run("--home", str(home), "--passphrase-file", str(wrong), "invite")
    assert result.exit_code == 1
    assert "wrong passphrase" in result.output
    with pytest.raises(PassphraseNeeded):
        load_keys(home, b"not the passphrase at all")


def test_the_right_passphrase_opens_the_keys(sealed: tuple[Path, Path]) -> None:
    home, secret = sealed
    result = _run("--home", str(home), "--passphrase-file", str(secret), "invite", "--json")
    assert result.exit_code == 0, result.output
    env_result = _run("--home", str(home), "invite", env={"TAGSHARE_PASSPHRASE_FILE": str(secret)})
    assert env_result.exit_code == 0, env_result.output
    node = open_node(home, secret.read_bytes().rstrip(b"\n"))
    try:
        assert node.keys.node_id == node.node_id
    finally:
        node.close()


def test_database_commands_work_without_the_passphrase(sealed: tuple[Path, Path]) -> None:
    home, _ = sealed
    assert _run("--home", str(home), "people", "add", "--first-name", "Ann").exit_code == 0
    shown = _run("--home", str(home), "id", "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["name"] == "Sealed"


def test_a_short_passphrase_is_refused(tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("abc\n")
    result = _run("--home", str(tmp_path / "n"), "init", "--name", "X", "--passphrase-file",
                  str(short))
    assert result.exit_code == 1 and "shorter than 8" in result.output
    assert not (tmp_path / "n" / "keys.json").exists()


def test_unsealed_nodes_still_open(tmp_path: Path) -> None:
    node = init_node(tmp_path / "plain", name="Plain")
    node.close()
    again = open_node(tmp_path / "plain")
    try:
        assert again.keys.node_id == again.node_id
    finally:
        again.close()
