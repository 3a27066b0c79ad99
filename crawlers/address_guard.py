"""Which IP addresses storytrail may connect to: public unicast only, whatever the notation.

Python's `is_global` is not enough on its own: it counts `::127.0.0.1` (IPv4-compatible), `64:ff9b::7f00:1`
(NAT64) and `2002:7f00:1::1` (6to4) as global, yet each of them reaches an IPv4 address inside, and a
gateway on the way may deliver it to this machine or the private network. An IPv6 address that embeds an
IPv4 address is judged by that IPv4 address too. Multicast is never an article server.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64 prefixes: the well-known one (RFC 6052) embeds the IPv4 address in its last 32 bits; the local-use
# one (RFC 8215) is for a site's own translators, so nothing behind it is public.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
# IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) sit in ::/96 next to :: and ::1.
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def parse_address(text: str) -> IPAddress | None:
    """The address written in a URL host (`[::1]`, `127.0.0.1`, `fe80::1%eth0`), or None for a name."""
    try:
        return ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries: mapped, compatible, NAT64, 6to4, Teredo, ISATAP."""
    found: list[ipaddress.IPv4Address] = []
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address in IPV4_COMPATIBLE and int(address) > 1:
        found.append(low32)
    if address in NAT64_WELL_KNOWN:
        found.append(low32)
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found.extend(address.teredo)
    if (int(address) >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP interface id ::0:5efe:a.b.c.d / ::200:5efe:...
        found.append(low32)
    return found


def non_public_reason(address: IPAddress) -> str | None:
    """Why storytrail must not connect to `address`, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL_USE:
            return f"address {address} is a local-use NAT64 address"
        for inner in embedded_ipv4(address):
            reason = non_public_reason(inner)
            if reason:
                return f"address {address} embeds {inner}, which is not public"
    if address.is_multicast:
        return f"address {address} is multicast"
    if not address.is_global:
        return f"address {address} is not public"
    return None
