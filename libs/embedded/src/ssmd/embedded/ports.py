"""Free loopback port selection for the server launchers.

The kernel picks an unused port when a socket binds port 0; we close the socket and hand the
number to the server. Another process can grab it in between, so the launchers retry a start
that fails with "address already in use" on a fresh port.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on `host` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def can_connect(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """True when a TCP connection to host:port succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
