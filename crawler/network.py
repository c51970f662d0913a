"""Which hosts and addresses a crawl may reach: plain functions, no Scrapy.

A crawl fetches what strangers' pages point it to, and re-checks ads whose sites may have changed
hands since; a redirect can send it to ``127.0.0.1``, to the cloud metadata service at
``169.254.169.254`` or to a server inside the bureau's network. An address is *inside* when it
is loopback, private, link-local, multicast, unspecified, reserved or otherwise not globally
reachable (``ipaddress``'s own tables); IPv4 addresses written as IPv6 (``::ffff:127.0.0.1``,
6to4, NAT64) are judged by the IPv4 address they carry, and IPv4 literals in the forms
``inet_aton`` accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) by their value. Inside
addresses are refused unless they are in one of the allowed networks
(``TUTORWATCH_ALLOW_NETWORKS``).

``crawler.middlewares.network_guard`` applies these to every request, redirect, stored ad and
rendering browser's connection.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "TUTORWATCH_ALLOW_NETWORKS"
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


def parse_networks(value: str | Iterable[str] | None, name: str = SETTING) -> tuple[IPNetwork, ...]:
    """Networks from a comma-separated string or a list of CIDRs (a bare address is one host).

    A network with host bits set (``10.1.2.3/8``) is refused rather than read as ``10.0.0.0/8``:
    the operator may have meant either. Errors name ``name``."""
    parts = value.split(",") if isinstance(value, str) else list(value or [])
    networks = []
    for part in (str(p).strip() for p in parts):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part))
        except ValueError as exc:
            raise ValueError(
                f"{name}: {part!r} is not a network in CIDR notation ({exc})") from None
    return tuple(networks)


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` names literally, in any form the system resolver would read as one,
    or None for a host name."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def effective_address(address: IPAddress) -> IPAddress:
    """The address a connection really reaches: the IPv4 address inside an IPv4-mapped, 6to4 or
    well-known-prefix NAT64 IPv6 address, otherwise the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def inside_block(address: IPAddress) -> str | None:
    """What makes ``address`` an inside one (``"loopback"``, ``"private"``, ``"link-local"``,
    ``"multicast"``, ``"unspecified"``, ``"reserved"``, ``"non-global"``), or None for a public
    address."""
    real = effective_address(address)
    if isinstance(address, ipaddress.IPv6Address) and address.teredo is not None:
        # A Teredo address carries its server's and client's IPv4 addresses; either inside
        # makes the whole one inside.
        for carried in address.teredo:
            if (block := inside_block(carried)) is not None:
                return block
    for block, test in (("loopback", real.is_loopback), ("unspecified", real.is_unspecified),
                       ("link-local", real.is_link_local), ("multicast", real.is_multicast),
                       ("private", real.is_private), ("reserved", real.is_reserved),
                       ("non-global", not real.is_global)):
        if test:
            return block
    return None


def address_refusal(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why a crawl must not connect to ``address`` (one line), or None when it may."""
    block = inside_block(address)
    if block is None:
        return None
    real = effective_address(address)
    if any(real.version == net.version and real in net for net in allowed):
        return None
    shown = str(address) if real == address else f"{address} ({real})"
    inside = ", ".join(str(net) for net in allowed) or "none"
    return f"{shown} is a {block} address, outside {SETTING} ({inside})"


def host_in_domains(host: str, domains: Sequence[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one (as Scrapy's offsite rule)."""
    host = host.lower().rstrip(".")
    for domain in domains:
        domain = domain.lower().rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False
