"""The client address as Kong sees it: nginx's realip module driven by kong.conf `trusted_ips`.

Only a peer inside `trusted_ips` (default: none) may name the client through `real_ip_header`
(Kong's default `X-Real-IP`; `X-Forwarded-For` takes the right-most address, or with
`real_ip_recursive` the right-most one that is not itself trusted). Everyone else is the address
of the socket, whatever headers it sends.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_ips(values: Iterable[str] | str | None) -> list[Network]:
    """`0.0.0.0/0,::/0`, `10.0.0.0/8`, `192.0.2.7` ... (a comma-separated string or a list)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    out = []
    for v in values:
        v = v.strip()
        if v:
            out.append(ipaddress.ip_network(v, strict=False))
    return out


def _ip(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


class RealIp:
    def __init__(
        self,
        trusted_ips: Iterable[str] | str | None = None,
        header: str = "X-Real-IP",
        recursive: bool = False,
    ) -> None:
        self.trusted = parse_trusted_ips(trusted_ips)
        self.header = header.lower()
        self.recursive = recursive

    def is_trusted(self, ip: str) -> bool:
        addr = _ip(ip)
        return addr is not None and any(addr in net for net in self.trusted)

    def client_ip(self, peer: str, headers: dict[str, list[str]]) -> str:
        """$remote_addr after the realip module; `headers` maps lower-case names to values."""
        if not self.trusted or not self.is_trusted(peer):
            return peer
        values = headers.get(self.header)
        if not values:
            return peer
        if self.header != "x-forwarded-for":
            addr = _ip(values[0])
            return str(addr) if addr is not None else peer
        hops = [h.strip() for v in values for h in v.split(",") if h.strip()]
        for hop in reversed(hops):
            addr = _ip(hop)
            if addr is None:
                return peer
            if not self.recursive or not any(addr in net for net in self.trusted):
                return str(addr)
        return str(_ip(hops[0])) if hops else peer
