"""An httpx client on a fresh emulator app, shared by the per-platform emulator tests."""

from __future__ import annotations

from typing import Any

import httpx

from emulator.app import create_app


def make_client(**settings: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(**settings)), base_url="http://emulator"
    )
