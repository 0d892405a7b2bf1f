"""The repository's folders install as one `tagshare` package, and nothing imports them
under their old top-level names (issue 12: PyPI has unrelated `node` and `protocol`)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("node", "protocol", "cli")
CODE_FOLDERS = (*FOLDERS, "tests", "benchmarks", "tools")
LEAVE_AS_IS = "rename_to_tagshare: " + "leave this file as it is"


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def old_style_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for item in ast.walk(tree):
        if isinstance(item, ast.Import):
            names = [alias.name for alias in item.names]
        elif isinstance(item, ast.ImportFrom) and item.level == 0 and item.module:
            names = [item.module]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{item.lineno}: {name}" for name in names
                  if name.split(".")[0] in FOLDERS]
    return found


def test_every_package_folder_is_listed_under_tagshare() -> None:
    setuptools = pyproject()["tool"]["setuptools"]  # type: ignore[index]
    folders = sorted(".".join(("tagshare", *init.parent.relative_to(ROOT).parts))
                     for top in FOLDERS for init in (ROOT / top).rglob("__init__.py"))
    assert sorted(setuptools["packages"]) == folders, (
        "pyproject.toml [tool.setuptools] packages must list every package folder: "
        "run python tools/rename_to_tagshare.py")
    assert setuptools["package-dir"] == {f"tagshare.{top}": top for top in FOLDERS}


def test_the_console_script_and_package_data_name_tagshare() -> None:
    config = pyproject()
    assert config["project"]["scripts"] == {"tagshare": "tagshare.cli.main:main"}  # type: ignore[index]
    data = config["tool"]["setuptools"]["package-data"]  # type: ignore[index]
    assert all(name.startswith("tagshare.") for name in data)


def test_nothing_imports_node_protocol_or_cli_by_their_old_names() -> None:
    files = [path for folder in CODE_FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))
             if LEAVE_AS_IS not in path.read_text(encoding="utf-8")]
    assert len(files) > 100
    old = [line for path in files for line in old_style_imports(path)]
    assert old == [], "import these as tagshare.node / tagshare.protocol / tagshare.cli " \
                      "(python tools/rename_to_tagshare.py does it):\n" + "\n".join(old)
