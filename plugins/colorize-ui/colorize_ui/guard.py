"""Which requests ``colorize ui`` answers: its own address in ``Host``, its own page in ``Origin``.

Any web site the user visits can make the browser send requests to ``127.0.0.1``: plain
cross-site POSTs go out without asking, and through DNS rebinding (a name of the attacker's
that resolves first to its own server, then to 127.0.0.1) its scripts can even read the
answers as if they came from the same site. Both leave a mark the page can check:

* a rebound request carries the attacker's name in ``Host``: only the address the page
  serves is answered (the bound host and port; for a loopback bind also ``localhost``,
  ``127.0.0.1`` and ``[::1]`` on that port; for a wildcard bind such as ``0.0.0.0`` any IP
  address, this machine's host names and the names given with ``--allow-host``, since a
  name that can be rebound is never an IP address);
* a browser names the page that sends a request in ``Origin`` (for every POST and every
  script's ``fetch``): when present it must be this page, ``http://`` and the same host
  and port as ``Host``.

Anything else gets 403 with a JSON ``{"error": ...}`` saying what to open instead.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HostGuard", "HostPolicy", "parse_host"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")


def _normal(name: str) -> str:
    """Lower case, no brackets or trailing dot, IPv6 in its compressed form."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    name = name.rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_host(value: str, default_port: int = 80) -> tuple[str, int] | None:
    """``(name, port)`` of a ``Host`` value (``name``, ``name:port``, ``[v6]:port``), or None."""
    value = value.strip()
    if not value or any(c in value for c in " /\\@?#"):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else ""
    elif value.count(":") > 1:
        return None  # a bare IPv6 address needs brackets
    else:
        name, _, port_text = value.partition(":")
    if port_text:
        if not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
            return None
        port = int(port_text)
    else:
        port = default_port
    name = _normal(name)
    return (name, port) if name else None


@dataclass(frozen=True)
class HostPolicy:
    """The addresses one server answers to."""

    port: int
    names: frozenset[str]
    any_ip: bool = False

    @classmethod
    def for_bind(cls, host: str, port: int, extra: Iterable[str] = ()) -> HostPolicy:
        """The policy of a server bound to ``host``:``port``, plus the names ``extra``."""
        bound = _normal(host)
        names = {_normal(name) for name in extra if name.strip()}
        any_ip = bound in WILDCARDS
        if any_ip:
            names.update(LOOPBACK_NAMES)
            for name in (socket.gethostname(), socket.getfqdn()):
                if name:
                    names.add(_normal(name))
        else:
            names.add(bound)
            if _is_loopback(bound):
                names.update(LOOPBACK_NAMES)
        return cls(port, frozenset(names), any_ip)

    def allows(self, name: str, port: int) -> bool:
        return port == self.port and (name in self.names or (self.any_ip and _is_ip(name)))

    def address(self) -> str:
        """The address to tell a refused client (the first loopback name, or any name)."""
        for name in ("127.0.0.1", *sorted(self.names)):
            if name in self.names:
                shown = f"[{name}]" if ":" in name else name
                return f"http://{shown}:{self.port}/"
        return f"http://127.0.0.1:{self.port}/"


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


class HostGuard:
    """ASGI middleware: answers HTTP requests only if :meth:`check` finds nothing wrong."""

    def __init__(self, app: Any, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    def check(self, headers: list[tuple[bytes, bytes]]) -> str | None:
        """Why a request with ``headers`` is refused, or None to answer it."""
        hosts = [v.decode("latin-1") for k, v in headers if k.lower() == b"host"]
        origins = [v.decode("latin-1") for k, v in headers if k.lower() == b"origin"]
        if len(hosts) != 1:
            return f"{'no' if not hosts else 'several'} Host headers; open {self.policy.address()}"
        host = parse_host(hosts[0])
        if host is None or not self.policy.allows(*host):
            return (
                f"Host {_shown(hosts[0])} is not an address this page serves; "
                f"open {self.policy.address()}"
            )
        if len(origins) > 1:
            return "several Origin headers"
        if origins:
            origin = origins[0].strip()
            try:
                parts = urlsplit(origin)
                target = parse_host(parts.netloc, 80) if parts.scheme == "http" else None
            except ValueError:
                target = None
            if target != host or parts.path or parts.query or parts.fragment:
                return (
                    f"requests from the page at {_shown(origin)} are refused: only this "
                    f"page ({self.policy.address()}) may use it"
                )
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = self.check(scope.get("headers") or [])
        if reason is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": f"request refused: {reason}"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
