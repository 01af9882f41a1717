"""The outbound address policy against the IANA special-purpose address registries, and the
clients that enforce it on the address actually connected to and keep no cookies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from herald.media.fetch import FetchError, fetch_to_file
from herald.outbound import import_client, platform_client, platform_policy
from herald.settings import Settings
from platforms.base import AccountContext
from platforms.mastodon import MastodonAdapter
from platforms.outbound import (
    AddressNotAllowed,
    OutboundPolicy,
    check_url,
    is_public_address,
    parse_allow_list,
)
from tests.support.servers import free_port, serve_in_thread

# iana.org/assignments/iana-ipv4-special-registry and iana-ipv6-special-registry (every block
# that is not globally reachable, plus the deprecated ones), and what the probe found.
SPECIAL_PURPOSE = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/32",
    "2001:2::/48",
    "2001:db8::/32",
    "2001:10::/28",
    "2002::/16",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
)
PROBED = ("100.64.0.1", "100.100.100.200", "2002::1", "2002:7f00:1::", "fec0::1")
# IPv6 forms that carry a private IPv4 address.
CARRIED = ("::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1")
PUBLIC = (
    "8.8.8.8",
    "1.1.1.1",
    "151.101.1.69",
    "2606:4700::1111",
    "2a00:1450:4001::1",
    "64:ff9b::808:808",
)


def _samples(network: str) -> list[str]:
    net = ipaddress.ip_network(network)
    middle = net.network_address + net.num_addresses // 2
    return [str(net.network_address), str(middle), str(net.broadcast_address)]


@pytest.mark.parametrize("network", SPECIAL_PURPOSE)
def test_no_special_purpose_address_is_reached(network: str) -> None:
    for address in _samples(network):
        assert not is_public_address(address), address


def test_what_the_probe_got_through_and_carried_addresses_are_refused() -> None:
    for address in (*PROBED, *CARRIED):
        assert not is_public_address(address), address


def test_public_addresses_are_reached() -> None:
    for address in PUBLIC:
        assert is_public_address(address), address


def test_allow_list_entries_are_host_and_port() -> None:
    assert parse_allow_list([" 10.0.0.5:8080 ", "[fd00::1]:443", "mastodon.lan:3000"]) == [
        "10.0.0.5:8080",
        "[fd00::1]:443",
        "mastodon.lan:3000",
    ]
    for whole_host in ("127.0.0.1", "localhost", "mastodon.lan:", "host:99999", "h:1/path"):
        with pytest.raises(ValueError):
            parse_allow_list([whole_host])
    with pytest.raises(ValueError, match="host:port"):
        Settings(_env_file=None, platform_allow_hosts=["127.0.0.1"])


async def test_check_url_refuses_internal_hosts_before_sending() -> None:
    policy = OutboundPolicy.of(["127.0.0.1:8300"])
    await check_url("http://127.0.0.1:8300/mastodon", policy)
    for url in ("http://127.0.0.1:8301/", "http://100.64.0.1/", "http://[::ffff:127.0.0.1]:8300/"):
        with pytest.raises(AddressNotAllowed):
            await check_url(url, policy)


def test_the_platform_apps_urls_are_trusted_at_their_host_and_port() -> None:
    settings = Settings(
        _env_file=None,
        platform_apps={"x": {"api_url": "http://127.0.0.1:8123/x", "client_id": "c"}},
    )
    policy = platform_policy(settings)
    assert policy.allows_endpoint("127.0.0.1", 8123)
    assert not policy.allows_endpoint("127.0.0.1", 8124)


@pytest.fixture(scope="module")
def local_server() -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A server on loopback that sets a cookie and records what each request carried."""
    seen: list[dict[str, str]] = []

    async def remember(request: Request) -> Response:
        seen.append(dict(request.headers))
        response = JSONResponse(
            {"id": "1", "username": request.headers.get("authorization", "")[-1:], "acct": "a"}
        )
        response.set_cookie("session", f"for-{request.headers.get('authorization', '')}")
        return response

    async def away(_: Request) -> Response:
        return RedirectResponse("http://127.0.0.1:9/secret")

    app = Starlette(
        routes=[Route("/api/v1/accounts/verify_credentials", remember), Route("/away", away)]
    )
    port = free_port()
    with serve_in_thread(app, port):
        yield port, seen


async def test_the_client_checks_the_address_it_connects_to(
    local_server: tuple[int, list[dict[str, str]]],
) -> None:
    """No check_url first: the client itself refuses a name that resolves to loopback, as it
    would after a DNS answer changed, and reaches exactly the allow-listed endpoint."""
    port, _ = local_server
    refusing = platform_client(Settings(_env_file=None))
    allowing = platform_client(Settings(_env_file=None, platform_allow_hosts=[f"localhost:{port}"]))
    async with refusing, allowing:
        with pytest.raises(AddressNotAllowed, match="internal address"):
            await refusing.get(f"http://localhost:{port}/api/v1/accounts/verify_credentials")
        answered = await allowing.get(f"http://localhost:{port}/api/v1/accounts/verify_credentials")
        assert answered.status_code == 200
        with pytest.raises(AddressNotAllowed):  # the same host, another port
            await allowing.get(f"http://localhost:{free_port()}/")


async def test_an_import_redirected_to_an_internal_address_is_refused(
    local_server: tuple[int, list[dict[str, str]]], tmp_path: Any
) -> None:
    port, _ = local_server
    settings = Settings(_env_file=None, media_import_allow_hosts=[f"localhost:{port}"])
    async with import_client(settings) as http:
        with pytest.raises(FetchError, match="internal address"):
            await fetch_to_file(
                http,
                f"http://localhost:{port}/away",
                tmp_path / "file",
                max_bytes=1000,
                timeout_s=5,
                max_redirects=3,
                policy=OutboundPolicy.of(settings.media_import_allow_hosts),
            )


async def test_no_cookie_crosses_from_one_workspace_to_another(
    local_server: tuple[int, list[dict[str, str]]],
) -> None:
    """One platform client serves every workspace: a cookie the server set while acting for
    workspace B never rides on workspace A's requests (nor on B's next one)."""
    port, seen = local_server
    settings = Settings(_env_file=None, platform_allow_hosts=[f"127.0.0.1:{port}"])
    instance = f"http://127.0.0.1:{port}"
    workspace_b = AccountContext("b", "b", None, {"instance_url": instance, "access_token": "B"})
    workspace_a = AccountContext("a", "a", None, {"instance_url": instance, "access_token": "A"})
    async with platform_client(settings) as http:
        adapter = MastodonAdapter(http)
        seen.clear()
        raw = await http.get(f"{instance}/api/v1/accounts/verify_credentials")
        assert raw.headers["set-cookie"].startswith("session=")  # the server does set one
        await adapter.verify(workspace_b)
        await adapter.verify(workspace_a)
        await adapter.verify(workspace_b)
        assert len(http.cookies) == 0
    assert [h.get("cookie") for h in seen] == [None] * 4
    assert [h.get("authorization") for h in seen[1:]] == ["Bearer B", "Bearer A", "Bearer B"]
