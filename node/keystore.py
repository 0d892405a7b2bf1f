"""Reading and writing a node's private keys (0600, never logged)."""

import json
import os
from pathlib import Path

from node.home import KEYS_FILE, write_private
from protocol.encoding import b64u_decode, b64u_encode
from protocol.keys import NodeKeys


def generate_keys() -> NodeKeys:
    return NodeKeys(signing_seed=os.urandom(32), box_secret=os.urandom(32))


def save_keys(home: Path, keys: NodeKeys) -> None:
    data = {
        "signing_seed": b64u_encode(keys.signing_seed),
        "box_secret": b64u_encode(keys.box_secret),
    }
    write_private(home / KEYS_FILE, json.dumps(data) + "\n")


def load_keys(home: Path) -> NodeKeys:
    data = json.loads((home / KEYS_FILE).read_text())
    return NodeKeys(
        signing_seed=b64u_decode(data["signing_seed"]),
        box_secret=b64u_decode(data["box_secret"]),
    )
