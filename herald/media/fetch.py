"""Downloads for import-from-URL: streamed, size-capped, time-limited, redirects followed one
by one, and every hop checked by the outbound address policy (platforms.outbound: public
addresses only, unless the allow-list names the host and port)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx

from platforms.base import Rejected
from platforms.outbound import AddressNotAllowed, OutboundPolicy
from platforms.outbound import check_url as check_reachable


class FetchError(Exception):
    """Why a URL cannot be imported, in words for the user."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    content_type: str | None
    final_url: str


async def check_url(url: str, policy: OutboundPolicy) -> None:
    """Refuses URLs that are not http(s) or whose host resolves to an internal address."""
    try:
        await check_reachable(url, policy)
    except AddressNotAllowed as err:
        raise FetchError(
            f"{err.message}; imports may only reach public hosts unless "
            "HERALD_MEDIA_IMPORT_ALLOW_HOSTS names the host and port"
        ) from err
    except Rejected as err:
        raise FetchError(err.message) from err


async def fetch_to_file(
    http: httpx.AsyncClient,
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    max_redirects: int,
    policy: OutboundPolicy,
) -> Fetched:
    """`http` should enforce `policy` on each connection too (herald.outbound.import_client):
    the check here answers in words before a request, the client's holds at connect time."""
    deadline = time.monotonic() + timeout_s
    current = url
    for _ in range(max_redirects + 1):
        await check_url(current, policy)
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
        except AddressNotAllowed as exc:  # the name resolved differently at connect time
            raise FetchError(exc.message) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"the download failed: {type(exc).__name__}") from exc
    raise FetchError(f"more than {max_redirects} redirects")
