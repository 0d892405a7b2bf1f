"""A node's home folder: database, keys and config, and how to find it.

Layout of a home (mode 0700):
    node.db      the SQLite database (WAL), mode 0600
    keys.json    Ed25519 signing seed and X25519 box secret, mode 0600
    config.json  name, URL, default phone country
"""

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from tagshare.node.errors import InvalidInput, NodeExists, NoNode

DEFAULT_URL = "http://127.0.0.1:7440"
DB_FILE = "node.db"
KEYS_FILE = "keys.json"
CONFIG_FILE = "config.json"


def default_home() -> Path:
    """The platform's user data folder for tagshare."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "tagshare"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "tagshare"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "tagshare"


def resolve_home(option: str | None) -> Path:
    """--home, else TAGSHARE_HOME, else the platform default."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get("TAGSHARE_HOME")
    if env:
        return Path(env).expanduser()
    return default_home()


@dataclass(frozen=True)
class NodeConfig:
    name: str
    url: str = DEFAULT_URL
    default_country: str = "US"
    reachable: bool = True

    def save(self, home: Path) -> None:
        write_private(home / CONFIG_FILE, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, home: Path) -> "NodeConfig":
        data = json.loads((home / CONFIG_FILE).read_text())
        keys = ("name", "url", "default_country", "reachable")
        known = {key: data[key] for key in keys if key in data}
        return cls(**known)


def validate_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > 200:
        raise InvalidInput("the node name must be 1 to 200 characters, e.g. 'Ohio Senate 12'")
    return text


def validate_url(url: str) -> str:
    text = url.strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or len(text) < 10:
        raise InvalidInput(f"invalid URL {url!r}: give one like https://node.example.org")
    return text


def prepare_new_home(home: Path) -> None:
    """Create the folder (0700), or refuse if a node already lives there."""
    if (home / KEYS_FILE).exists() or (home / DB_FILE).exists():
        raise NodeExists(f"a node already exists in {home}: use another --home, or keep this one")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)


def require_home(home: Path) -> None:
    if not (home / KEYS_FILE).exists() or not (home / DB_FILE).exists():
        raise NoNode(
            f"no tagshare node in {home}: run `tagshare init --name NAME` first, "
            "or point --home / TAGSHARE_HOME at an existing node"
        )


def write_private(path: Path, text: str) -> None:
    """Write a file that only the owner can read, never briefly world-readable."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
