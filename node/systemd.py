"""Telling systemd how the service is doing (sd_notify), without libsystemd.

With `Type=notify`, systemd sets NOTIFY_SOCKET to a unix datagram socket
(a path, or an abstract name starting with '@') and waits for READY=1.
"""

import contextlib
import os
import socket
from collections.abc import Mapping


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send `state` (e.g. "READY=1") if systemd asked for it; whether it was sent."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
        return True
    return False
