"""The crawler's one DNS lookup per host: the answer that is checked is the answer that is connected to.

Checking a host name in one place and letting the HTTP client resolve it again to connect leaves a gap a
hostile DNS server can use (DNS rebinding): a public address for the check, 127.0.0.1 for the connection.
`GlobalOnlyResolver` is installed as Scrapy's resolver (`TWISTED_DNS_RESOLVER`), so every connection,
redirects and robots.txt included, goes through it: it resolves a name once per crawl, refuses the whole
answer when any address in it is not public (crawlers/address_guard.py), and hands the connection only
the addresses it checked. `crawlers.fetching` is the only user (and only in production: the replay web
and `fetch.allow_private_addresses` connect to loopback on purpose).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from loguru import logger
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution, IResolutionReceiver
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from crawlers.address_guard import non_public_reason, parse_address

# Host -> why its answer was refused; `crawlers.fetching.describe_failure` reads it to report the failure
# as an unsafe address (not retried) instead of a DNS failure (retried). One crawl per process.
REFUSED: dict[str, str] = {}


def lookup(host: str) -> list[str]:
    """The system resolver's addresses for `host`; a test may replace this function to play a DNS server."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:  # the lookup runs in a thread and cannot be stopped; its answer is ignored
        pass


@implementer(IHostnameResolver)
class GlobalOnlyResolver:
    """Twisted name resolver that answers only public addresses, each host resolved once per crawl."""

    def __init__(self, reactor, resolve: Callable[[str], list[str]] | None = None) -> None:
        self.reactor = reactor
        self.resolve = resolve or (lambda host: lookup(host))
        self.answers: dict[str, list[str]] = {}

    @classmethod
    def from_crawler(cls, crawler, reactor) -> GlobalOnlyResolver:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(self, resolutionReceiver: IResolutionReceiver, hostName: str, portNumber: int = 0,
                        addressTypes: Sequence[type] | None = None, transportSemantics: str = "TCP") -> IHostResolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)

        def deliver(addresses: list[str]) -> None:
            for text in addresses:
                kind = IPv6Address if ":" in text else IPv4Address
                if addressTypes is None or kind in addressTypes:
                    resolutionReceiver.addressResolved(kind("TCP", text, portNumber))
            resolutionReceiver.resolutionComplete()

        def failed(_failure) -> None:
            resolutionReceiver.resolutionComplete()  # no address: the endpoint reports a DNS lookup error

        if hostName in self.answers:
            deliver(self.answers[hostName])
            return resolution
        pool = self.reactor.getThreadPool()
        found = deferToThreadPool(self.reactor, pool, self._checked, hostName)
        found.addCallbacks(deliver, failed)
        return resolution

    def _checked(self, host: str) -> list[str]:
        """Resolve `host` (in a worker thread) and keep the answer only when every address is public."""
        if host in self.answers:
            return self.answers[host]
        addresses = list(dict.fromkeys(a.split("%")[0] for a in self.resolve(host)))
        for text in addresses:
            address = parse_address(text)
            reason = non_public_reason(address) if address is not None else f"unreadable address {text!r}"
            if reason:
                REFUSED[host] = f"host {host} resolves to {text}: {reason}"
                logger.bind(source="dns").debug("refused DNS answer: {}", REFUSED[host])
                addresses = []
                break
        self.answers[host] = addresses
        return addresses
