"""Every command has help text, answers --help, and takes --home.

The commands are found by walking click's tree, so commands added later are
checked without touching this file.
"""

import click
import pytest
from click.testing import CliRunner

from tagshare.cli.main import cli


def _walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(cli))


def test_the_tree_holds_the_known_commands():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"init", "id", "status", "audit", "people add", "people edit", "people show",
            "people list", "people import", "people export", "people erase", "tag add",
            "tag remove", "tag list", "contact add", "donation add"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS,
                         ids=[" ".join(path) or "tagshare" for path, _ in COMMANDS])
def test_command_has_help(path, command):
    assert (command.help or "").strip(), f"`tagshare {' '.join(path)}` has no help text"
    assert command.get_short_help_str().strip()
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), f"{' '.join(path)} {param.opts} has no help"
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    first_words = " ".join(command.help.split()[:4])
    assert first_words in " ".join(result.stdout.split())


@pytest.mark.parametrize(("path", "command"),
                         [(p, c) for p, c in COMMANDS if not isinstance(c, click.Group)],
                         ids=[" ".join(p) for p, c in COMMANDS if not isinstance(c, click.Group)])
def test_every_command_takes_home(path, command):
    assert any("--home" in param.opts for param in command.params), " ".join(path)
