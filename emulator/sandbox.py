"""Built-in sandbox accounts: one per platform, present at start and after every reset."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.platform import KNOWN_PLATFORMS

SANDBOX_USERNAME = "herald_sandbox"

# How each platform spells its own name, for the display names.
_PRETTY_NAMES = {
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "x": "X",
    "linkedin": "LinkedIn",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "threads": "Threads",
    "tiktok": "TikTok",
}


def sandbox_token(platform: str) -> str:
    return f"emulator-{platform}-sandbox-token"


@dataclass(frozen=True)
class SandboxAccount:
    platform: str
    username: str
    display_name: str
    token: str


def sandbox_accounts() -> list[SandboxAccount]:
    return [
        SandboxAccount(
            platform=platform,
            username=SANDBOX_USERNAME,
            display_name=f"Herald Sandbox ({_PRETTY_NAMES[platform]})",
            token=sandbox_token(platform),
        )
        for platform in KNOWN_PLATFORMS
    ]
