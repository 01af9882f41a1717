"""The one policy for every address Herald connects to on someone's behalf: an account's
instance or service URL, a media import, a platform's API. Only globally routable addresses
are reached, unless the operator allow-lists that very host and port.

The policy is applied twice. `check_url` resolves a URL before anything is sent, so a user who
names an internal host learns why at once. The HTTP clients made here check again on the
address actually connected to (a network backend between httpcore and the socket), so a DNS
answer that changes between the two — rebinding — still cannot reach an internal address, and
every redirect hop is covered the same way. Those clients keep no cookies: one client serves
every workspace, and a cookie one platform server set for one account must never ride along
on another's requests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from platforms import network_stream
from platforms.base import Rejected

# Blocks the IANA special-purpose registries mark not globally reachable (or deprecated) that
# Python 3.11's `ipaddress` still calls global: IETF protocol assignments (192.0.0.0/24),
# 6to4 and its relay anycast (RFC 7526 deprecated them; 2002::/16 wraps any IPv4 address,
# private ones too), IPv4-mapped IPv6, local-use NAT64, SRv6 SIDs, the newer documentation
# block and site-local IPv6 (deprecated, still routed inside some networks).
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.0.0.0/24",
        "192.88.99.0/24",
        "::ffff:0:0/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "3fff::/20",
        "5f00::/16",
        "fec0::/10",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressNotAllowed(Rejected):
    """A URL whose host is, or resolves to, an address the policy does not reach."""


def is_public_address(address: str) -> bool:
    """Globally routable and unicast; an IPv6 address that carries an IPv4 one (NAT64,
    Teredo) only if that one is public too."""
    ip = ipaddress.ip_address(address)
    if ip.is_multicast or not ip.is_global or any(ip in net for net in _NOT_PUBLIC):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        carried: list[ipaddress.IPv4Address] = []
        if ip.teredo is not None:
            carried.append(ip.teredo[1])
        if ip in _NAT64:
            carried.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return all(is_public_address(str(v4)) for v4 in carried)
    return True


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _endpoint(entry: str) -> tuple[str, int]:
    """ "host:port" (an IPv6 address in brackets) → (host, port); ValueError otherwise."""
    parts = urlsplit(f"//{entry.strip()}")
    try:
        port = parts.port
    except ValueError as err:
        raise ValueError(f"{entry!r}: the port is not a number from 1 to 65535") from err
    if not parts.hostname or port is None or parts.path or parts.query:
        raise ValueError(f"{entry!r} is not host:port (a whole host is never allow-listed)")
    return parts.hostname.lower(), port


def parse_allow_list(entries: Iterable[str]) -> list[str]:
    """The entries as given, each checked to be host:port (for settings validators)."""
    listed = [e.strip() for e in entries if e.strip()]
    for entry in listed:
        _endpoint(entry)
    return listed


LOOPBACK_NAMES = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class OutboundPolicy:
    """Public addresses, plus the listed host:port endpoints whatever they resolve to."""

    allowed: frozenset[tuple[str, int]] = frozenset()
    # Any port of this machine, named as such (herald dev's webhook receivers).
    loopback: bool = False

    @classmethod
    def of(
        cls,
        entries: Iterable[str],
        trusted_urls: Iterable[str | None] = (),
        *,
        loopback: bool = False,
    ) -> OutboundPolicy:
        """`entries` are host:port; `trusted_urls` (the operator's own configuration, such
        as platform API base URLs) are allowed at their host and port too."""
        allowed = {_endpoint(e) for e in parse_allow_list(entries)}
        for url in trusted_urls:
            parts = urlsplit(url or "")
            if parts.hostname:
                allowed.add((parts.hostname.lower(), parts.port or _default_port(parts.scheme)))
        return cls(frozenset(allowed), loopback)

    def allows_endpoint(self, host: str, port: int) -> bool:
        name = host.lower().strip("[]")
        return (name, port) in self.allowed or (self.loopback and name in LOOPBACK_NAMES)

    async def check(self, host: str, port: int, timeout_s: float | None = None) -> list[str]:
        """The addresses to connect to for host:port; AddressNotAllowed if any resolved one
        is not public (a host that answers with an internal address is not trusted for its
        other answers either) and the endpoint is not allow-listed."""
        addresses = await _resolve(host, port, timeout_s)
        if self.allows_endpoint(host, port):
            return addresses
        blocked = sorted(a for a in addresses if not is_public_address(a))
        if blocked:
            named = f"{host} is" if blocked == [host.strip("[]")] else f"{host} resolves to"
            raise AddressNotAllowed(
                f"{named} an internal address ({', '.join(blocked)}), not a public one; "
                f"only an allow-listed {host}:{port} may be internal",
                "address_not_allowed",
            )
        return addresses


async def _resolve(host: str, port: int, timeout_s: float | None) -> list[str]:
    try:
        async with asyncio.timeout(timeout_s):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"the host {host} does not resolve") from exc
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_url(url: str, policy: OutboundPolicy, timeout_s: float | None = None) -> None:
    """Before anything is sent: an http(s) URL whose host the policy reaches. Raises
    AddressNotAllowed (or Rejected for a URL that is not http(s) or does not resolve)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Rejected("only http and https URLs can be reached", "invalid_url")
    try:
        port = parts.port or _default_port(parts.scheme)
    except ValueError as exc:
        raise Rejected(f"{url!r} has no valid port", "invalid_url") from exc
    try:
        await policy.check(parts.hostname, port, timeout_s)
    except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
        raise Rejected(str(exc), "unresolvable_host") from exc


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, applies the policy, and connects to an address it checked.
    TLS still verifies the certificate against the host name (httpcore passes it as SNI)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._policy.check(host, port, timeout)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await network_stream.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # getaddrinfo answers at least one address or raises
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed("Unix sockets are never reached", "address_not_allowed")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: OutboundPolicy, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        # httpx builds its pool on the default network backend and offers no parameter for
        # another: the same pool, on the guarded one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )


class _NoCookies(httpx.Cookies):
    """A jar that refuses every cookie, and does not even read Set-Cookie: parsing it into a
    jar that keeps nothing cost a twelfth of an outbound request's CPU."""

    def __init__(self) -> None:
        super().__init__(CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.AsyncClient):
    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("outbound clients keep no cookies")


def outbound_client(
    policy: OutboundPolicy, *, timeout_s: float, limits: httpx.Limits | None = None
) -> httpx.AsyncClient:
    """An HTTP client that reaches only what `policy` allows, on every connection and every
    redirect hop, follows no redirects by itself and keeps no cookies."""
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return _CookielessClient(
        transport=_GuardedTransport(policy, limits),
        timeout=timeout_s,
        follow_redirects=False,
    )
