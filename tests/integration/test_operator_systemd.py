"""contrib/systemd/tagshare.service: valid for systemd, hardened, and its credential works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from operator_helpers import HOST, Served
from shares_helpers import free_port

from tagshare.node.node import init_node

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "tagshare.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # verify insists that ExecStart's program exists: point it at this checkout's.
    here = Path(sys.executable).parent / "tagshare"
    unit = tmp_path / "tagshare.service"
    unit.write_text(UNIT.read_text().replace("/opt/tagshare/bin/tagshare", str(here)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tagshare.service" not in result.stderr, result.stderr  # no warning about it


def test_the_unit_is_hardened_and_takes_the_passphrase_as_a_credential() -> None:
    unit = directives()
    expected = {
        "User": ["tagshare"], "Restart": ["on-failure"], "Type": ["notify"],
        "NoNewPrivileges": ["yes"], "ProtectSystem": ["strict"],
        "ReadWritePaths": ["/var/lib/tagshare"], "PrivateTmp": ["yes"],
        "ProtectHome": ["yes"], "RestrictAddressFamilies": ["AF_INET AF_INET6 AF_UNIX AF_NETLINK"],
        "CapabilityBoundingSet": [""], "LoadCredential": ["passphrase:/etc/tagshare/passphrase"],
        "Environment": ["TAGSHARE_HOME=/var/lib/tagshare"],
    }
    for key, values in expected.items():
        assert unit.get(key) == values, key
    assert "--passphrase-file" not in UNIT.read_text().split("[Service]")[1]


def test_serve_unlocks_sealed_keys_from_the_systemd_credential(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "sealed"
    init_node(home, name="Sealed Org", url=f"http://{HOST}:{port}",
              passphrase=b"correct horse battery staple").close()
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "passphrase").write_text("correct horse battery staple\n")
    (credentials / "passphrase").chmod(0o400)  # as systemd writes a credential
    env = {k: v for k, v in os.environ.items() if k != "TAGSHARE_PASSPHRASE_FILE"}
    node = Served(home=home, port=port)
    try:
        node.start(env={**env, "CREDENTIALS_DIRECTORY": str(credentials)})
        assert node.stop() == 0
    finally:
        node.close()
    assert "listening on" in node.log_text()


def test_without_the_credential_sealed_keys_stay_shut(tmp_path: Path) -> None:
    home = tmp_path / "sealed"
    init_node(home, name="Sealed Org", passphrase=b"correct horse battery staple").close()
    env = {k: v for k, v in os.environ.items()
           if k not in ("TAGSHARE_PASSPHRASE_FILE", "CREDENTIALS_DIRECTORY")}
    result = subprocess.run([sys.executable, "-c", "from tagshare.cli.main import main; main()",
                             "--home", str(home), "serve", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "protected by a passphrase" in result.stderr
