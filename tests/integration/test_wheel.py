"""The wheel installs one top-level package, `tagshare`, and works in a fresh virtualenv.

Before issue 12 it put `node`, `protocol` and `cli` into site-packages, where they
clash with PyPI's packages of those names. This builds the wheel with pip (as a user
or a packager would: `pip wheel .`), from a copy of the files a checkout has, installs
it with its dependencies into a new virtualenv and runs the installed `tagshare`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("node", "protocol", "cli")
DASHBOARD = ROOT / "node" / "admin" / "dashboard"
TIMEOUT = 900  # resolving and installing the dependencies on a loaded machine


def source_copy(target: Path) -> Path:
    """The project's own files, without build/, egg-info or caches from earlier runs."""
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, target / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    return target


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def expected_files() -> set[str]:
    """Every module and every dashboard template and static file, as the wheel names it."""
    names = {f"tagshare/{path.relative_to(ROOT).as_posix()}"
             for folder in FOLDERS for path in (ROOT / folder).rglob("*.py")}
    for sub in ("templates", "static"):
        names |= {f"tagshare/{path.relative_to(ROOT).as_posix()}"
                  for path in (DASHBOARD / sub).rglob("*") if path.is_file()}
    return names


def test_wheel_holds_only_tagshare_and_its_console_script_runs(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    source = source_copy(tmp_path / "source")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
         str(tmp_path / "dist"), str(source)], cwd=tmp_path, env=env)
    [wheel] = (tmp_path / "dist").glob("tagshare-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    top = {name.split("/")[0] for name in names}
    dist_info = {name for name in top if re.fullmatch(r"tagshare-[\w.]+\.dist-info", name)}
    assert len(dist_info) == 1 and top - dist_info == {"tagshare"}
    assert expected_files() <= names, sorted(expected_files() - names)
    assert any(name.startswith("tagshare/node/admin/dashboard/templates/") for name in names)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        cwd=tmp_path, env=env)
    usage = run([str(venv / "bin" / "tagshare"), "--help"], cwd=tmp_path, env=env)
    assert usage.startswith("Usage: tagshare")
    probe = ("import importlib.util as u, importlib.resources as r; "
             "print([n for n in ('node', 'protocol', 'cli') if u.find_spec(n)]); "
             "print(r.files('tagshare.node.admin.dashboard').joinpath('templates').is_dir())")
    assert run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=env) == "[]\nTrue\n"
