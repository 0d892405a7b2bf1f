"""Reading and writing a node's private keys (0600, never logged).

keys.json holds either the two 32-byte secrets in base64url, or, with a
passphrase, the same JSON sealed with XSalsa20-Poly1305 (NaCl SecretBox)
under a key derived from the passphrase with Argon2id (pynacl's pwhash):

    {"format": "tagshare-keys-v1+argon2id", "salt": ..., "opslimit": ...,
     "memlimit": ..., "sealed": ...}

The file records the Argon2id cost it was sealed with, so keys sealed at an
older cost still open. New keys are sealed at MODERATE: they are an
organization's long-lived identity, unlocked once per `serve` (about 1.2 s
and 256 MiB on the 2-core reference machine, against 0.25 s and 64 MiB for
the INTERACTIVE cost used before).
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret

from tagshare.node.errors import InvalidInput, NodeError
from tagshare.node.home import KEYS_FILE, write_private
from tagshare.protocol.encoding import b64u_decode, b64u_encode
from tagshare.protocol.keys import NodeKeys
from tagshare.protocol.rotation import KeyLink

SEALED_FORMAT = "tagshare-keys-v1+argon2id"
PASSPHRASE_ENV = "TAGSHARE_PASSPHRASE_FILE"
CREDENTIAL_NAME = "passphrase"  # systemd: LoadCredential=passphrase:/etc/tagshare/passphrase


@dataclass(frozen=True)
class SealCost:
    """How much work and memory Argon2id spends deriving the key that seals keys.json."""

    opslimit: int
    memlimit: int


ARGON2 = nacl.pwhash.argon2id
MODERATE = SealCost(ARGON2.OPSLIMIT_MODERATE, ARGON2.MEMLIMIT_MODERATE)
INTERACTIVE = SealCost(ARGON2.OPSLIMIT_INTERACTIVE, ARGON2.MEMLIMIT_INTERACTIVE)  # before
# A keys.json asking for more than SENSITIVE is damaged, not stronger: refused, not run.
_MOST = SealCost(ARGON2.OPSLIMIT_SENSITIVE, ARGON2.MEMLIMIT_SENSITIVE)


class PassphraseNeeded(NodeError):
    """The keys are sealed and no (or a wrong) passphrase was given."""


def generate_keys() -> NodeKeys:
    return NodeKeys(signing_seed=os.urandom(32), box_secret=os.urandom(32))


def read_passphrase_file(path: str | Path) -> bytes:
    """The passphrase in `path`, which only its owner may read or change."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_mode & 0o077:
                raise InvalidInput(f"passphrase file {path} can be read or changed by other "
                                   f"users: run chmod 600 {path}")
            text = handle.read().rstrip(b"\r\n")
    except OSError as exc:
        raise InvalidInput(f"cannot read passphrase file {path}: {exc.strerror}") from None
    if len(text) < 8:
        raise InvalidInput(f"the passphrase in {path} is shorter than 8 characters")
    return text


def passphrase_from_env() -> bytes | None:
    """$TAGSHARE_PASSPHRASE_FILE, else the systemd credential `passphrase`, if any."""
    path = os.environ.get(PASSPHRASE_ENV)
    if path:
        return read_passphrase_file(path)
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / CREDENTIAL_NAME).is_file():
        return read_passphrase_file(Path(credentials) / CREDENTIAL_NAME)
    return None


@dataclass(frozen=True)
class KeyState:
    """The current keys, the chain that leads to them, and (until every peer heard of a
    rotation) the keys they replaced."""

    keys: NodeKeys
    chain: tuple[KeyLink, ...] = ()
    previous: NodeKeys | None = None


def save_keys(home: Path, keys: NodeKeys, passphrase: bytes | None = None, *,
              cost: SealCost = MODERATE) -> None:
    save_key_state(home, KeyState(keys), passphrase, cost=cost)


def save_key_state(home: Path, state: KeyState, passphrase: bytes | None = None, *,
                   cost: SealCost = MODERATE) -> None:
    """Write the keys, sealed with `passphrase` at `cost` if one is given (tests pass a
    cheaper cost; everything else seals at MODERATE)."""
    keys = state.keys
    secrets: dict[str, object] = {
        "signing_seed": b64u_encode(keys.signing_seed),
        "box_secret": b64u_encode(keys.box_secret),
    }
    if state.chain:
        secrets["identity"] = keys.node_id
        secrets["chain"] = [link.to_dict() for link in state.chain]
    if state.previous is not None:
        secrets["previous"] = {"signing_seed": b64u_encode(state.previous.signing_seed),
                               "box_secret": b64u_encode(state.previous.box_secret)}
    data: dict[str, object] = secrets
    if passphrase is not None:
        salt = os.urandom(nacl.pwhash.argon2id.SALTBYTES)
        box = nacl.secret.SecretBox(_derive(passphrase, salt, cost))
        data = {"format": SEALED_FORMAT, "salt": b64u_encode(salt), "opslimit": cost.opslimit,
                "memlimit": cost.memlimit,
                "sealed": b64u_encode(box.encrypt(json.dumps(secrets).encode()))}
    write_private(home / KEYS_FILE, json.dumps(data) + "\n")


def is_sealed(home: Path) -> bool:
    return bool(json.loads((home / KEYS_FILE).read_text()).get("format") == SEALED_FORMAT)


def load_keys(home: Path, passphrase: bytes | None = None) -> NodeKeys:
    return load_key_state(home, passphrase).keys


def load_key_state(home: Path, passphrase: bytes | None = None) -> KeyState:
    data: dict[str, Any] = json.loads((home / KEYS_FILE).read_text())
    if data.get("format") == SEALED_FORMAT:
        data = _unseal(dict(data), passphrase)
    identity = data.get("identity")
    keys = NodeKeys(signing_seed=b64u_decode(data["signing_seed"]),
                    box_secret=b64u_decode(data["box_secret"]), identity=identity)
    previous = None
    if "previous" in data:
        previous = NodeKeys(signing_seed=b64u_decode(data["previous"]["signing_seed"]),
                            box_secret=b64u_decode(data["previous"]["box_secret"]),
                            identity=identity)
    chain = tuple(KeyLink.from_dict(link) for link in data.get("chain", []))
    return KeyState(keys=keys, chain=chain, previous=previous)


def _unseal(data: dict[str, object], passphrase: bytes | None) -> dict[str, Any]:
    if passphrase is None:
        raise PassphraseNeeded(
            "this node's keys are protected by a passphrase: give --passphrase-file FILE "
            f"or set {PASSPHRASE_ENV}")
    salt = b64u_decode(str(data["salt"]))
    cost = SealCost(int(str(data["opslimit"])), int(str(data["memlimit"])))
    if cost.opslimit > _MOST.opslimit or cost.memlimit > _MOST.memlimit:
        raise NodeError(f"keys.json asks for an Argon2id cost above SENSITIVE ({cost}): "
                        "it is damaged; restore it from your copy")
    key = _derive(passphrase, salt, cost)
    try:
        plain = nacl.secret.SecretBox(key).decrypt(b64u_decode(str(data["sealed"])))
    except nacl.exceptions.CryptoError:
        raise PassphraseNeeded("wrong passphrase for this node's keys") from None
    secrets: dict[str, Any] = json.loads(plain)
    return secrets


def _derive(passphrase: bytes, salt: bytes, cost: SealCost) -> bytes:
    key: bytes = ARGON2.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase, salt,
                            opslimit=cost.opslimit, memlimit=cost.memlimit)
    return key
