"""Loopback names: what a server without tokens may bind, and the Host headers it then answers.

A server with no tokens gives anyone full access, so it binds loopback only; it also
refuses a request whose ``Host`` is not a loopback name, so a page on another site
cannot reach it through a DNS name rebound to 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback", "loopback_host_header"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1 or 'localhost')."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_host_header(value: str) -> bool:
    """Whether a ``Host`` header (``name[:port]``, ``[::1]:port``) names this machine."""
    if value.startswith("["):
        name = value[1 : value.find("]")] if "]" in value else value
    else:
        name = value.rpartition(":")[0] if value.count(":") == 1 else value
    return is_loopback(name)
