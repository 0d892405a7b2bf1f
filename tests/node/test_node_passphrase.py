"""Keys sealed with a passphrase: written sealed, refused without it, opened with it.

The fixture seals at the old INTERACTIVE cost (through `init_node`'s `seal_cost`, which
keeps these tests fast); `tagshare init` itself seals at MODERATE, checked once below."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tagshare.cli.main import cli
from tagshare.node.errors import NodeError
from tagshare.node.keystore import INTERACTIVE, MODERATE, PassphraseNeeded, load_keys
from tagshare.node.node import init_node, open_node

PASSPHRASE = "correct horse battery staple"


def private_file(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def _run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path]:
    secret = private_file(tmp_path / "pass.txt", PASSPHRASE + "\n")
    home = tmp_path / "node"
    init_node(home, name="Sealed", passphrase=PASSPHRASE.encode(), seal_cost=INTERACTIVE).close()
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
    wrong = private_file(tmp_path / "wrong.txt", "not the passphrase at all\n")
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
    short = private_file(tmp_path / "short.txt", "abc\n")
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


def test_init_seals_at_the_moderate_cost(tmp_path: Path) -> None:
    secret = private_file(tmp_path / "pass.txt", PASSPHRASE + "\n")
    home = tmp_path / "node"
    result = _run("--home", str(home), "init", "--name", "Sealed", "--passphrase-file",
                  str(secret))
    assert result.exit_code == 0, result.output
    data = json.loads((home / "keys.json").read_text())
    assert (data["opslimit"], data["memlimit"]) == (MODERATE.opslimit, MODERATE.memlimit)
    assert load_keys(home, PASSPHRASE.encode()).node_id == json.loads(
        _run("--home", str(home), "id", "--json").output)["node_id"]


def test_keys_sealed_at_the_old_interactive_cost_still_open(sealed: tuple[Path, Path]) -> None:
    home, secret = sealed
    data = json.loads((home / "keys.json").read_text())
    assert (data["opslimit"], data["memlimit"]) == (INTERACTIVE.opslimit, INTERACTIVE.memlimit)
    result = _run("--home", str(home), "--passphrase-file", str(secret), "invite", "--json")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_passphrase_file_others_can_read_is_refused(sealed: tuple[Path, Path],
                                                      mode: int) -> None:
    home, secret = sealed
    secret.chmod(mode)
    for result in (_run("--home", str(home), "--passphrase-file", str(secret), "invite"),
                   _run("--home", str(home), "invite",
                        env={"TAGSHARE_PASSPHRASE_FILE": str(secret)}),
                   _run("--home", str(home / "new"), "init", "--name", "X",
                        "--passphrase-file", str(secret))):
        assert result.exit_code == 1
        [line] = result.output.strip().splitlines()
        assert line == (f"Error: passphrase file {secret} can be read or changed by other "
                        f"users: run chmod 600 {secret}"), line
    assert not (home / "new").exists()


def test_a_keys_file_asking_for_an_absurd_cost_is_refused(sealed: tuple[Path, Path]) -> None:
    home, _ = sealed
    data = json.loads((home / "keys.json").read_text())
    (home / "keys.json").write_text(json.dumps({**data, "memlimit": 2**42}))
    with pytest.raises(NodeError, match="damaged"):
        load_keys(home, PASSPHRASE.encode())
