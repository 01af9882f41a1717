"""Downloads for import-from-URL: streamed, size-capped, time-limited, redirects followed one
by one, and every hop checked by the SSRF guard (no private, loopback or link-local address
unless the allow-list names the host)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx


class FetchError(Exception):
    """Why a URL cannot be imported, in words for the user."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    content_type: str | None
    final_url: str


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check_url(url: str, allow_hosts: list[str]) -> None:
    """Refuses URLs that are not http(s) or whose host resolves to an internal address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("only http and https URLs can be imported")
    host = parts.hostname
    if host in allow_hosts:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        raise FetchError(f"the host {host} does not resolve") from exc
    addresses = {str(info[4][0]) for info in infos}
    blocked = sorted(a for a in addresses if _forbidden(a))
    if blocked:
        raise FetchError(
            f"{host} resolves to an internal address ({', '.join(blocked)}); imports may only "
            "reach public hosts unless HERALD_MEDIA_IMPORT_ALLOW_HOSTS names it"
        )


async def fetch_to_file(
    http: httpx.AsyncClient,
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    max_redirects: int,
    allow_hosts: list[str],
) -> Fetched:
    deadline = time.monotonic() + timeout_s
    current = url
    for _ in range(max_redirects + 1):
        await check_url(current, allow_hosts)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"the download took longer than {timeout_s:.0f} s")
        try:
            async with asyncio.timeout(remaining), http.stream("GET", current) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError("a redirect without a Location header")
                    current = urljoin(current, location)
                    continue
                if response.status_code != 200:
                    raise FetchError(f"the URL answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(f"the file is {declared} bytes; the limit is {max_bytes}")
                size = 0
                with destination.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise FetchError(f"the file is over the {max_bytes}-byte limit")
                        out.write(chunk)
                return Fetched(destination, size, response.headers.get("content-type"), current)
        except TimeoutError as exc:
            raise FetchError(f"the download took longer than {timeout_s:.0f} s") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"the download failed: {type(exc).__name__}") from exc
    raise FetchError(f"more than {max_redirects} redirects")
