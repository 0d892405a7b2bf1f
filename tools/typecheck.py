"""Type-check protocol/ and node/ as tagshare.protocol and tagshare.node.

    python tools/typecheck.py [MYPY OPTIONS]

The folders node/, protocol/ and cli/ install as tagshare.node, tagshare.protocol and
tagshare.cli (pyproject.toml's package-dir). mypy finds a module by its folder's
name and cannot follow the import hook of an editable install, so `mypy protocol node`
would see `tagshare.protocol` nowhere. This links the three folders into
build/typecheck/tagshare/ (so a new module is seen at once, nothing is copied) and
checks the packages through those links; paths in mypy's messages are given back as
the repository's own (node/sync.py, not build/typecheck/tagshare/node/sync.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIEW = ROOT / "build" / "typecheck"
FOLDERS = ("node", "protocol", "cli")
CHECKED = ("tagshare.protocol", "tagshare.node")


def link_folders() -> None:
    package = VIEW / "tagshare"
    package.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        link = package / folder
        target = Path("..", "..", "..", folder)
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)


def main(argv: list[str]) -> int:
    link_folders()
    packages = [arg for name in CHECKED for arg in ("-p", name)]
    env = {**os.environ, "MYPYPATH": str(VIEW)}
    run = subprocess.run([sys.executable, "-m", "mypy", *packages, *argv], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=False)
    shown = f"{VIEW.relative_to(ROOT)}/tagshare/"
    sys.stdout.write(run.stdout.replace(shown, "").replace(f"{VIEW}/tagshare/", ""))
    sys.stderr.write(run.stderr)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
