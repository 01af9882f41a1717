"""AppView shapes (app.bsky.feed.defs, app.bsky.actor.defs, app.bsky.embed.*#view) built from
emulator state. ``base`` is the PDS URL, e.g. ``http://127.0.0.1:8123/bluesky``.

The emulator is PDS and AppView in one: what a client writes with createRecord is indexed at
once (a real AppView lags by a second or so).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from emulator.atproto import fake_multikey, split_at_uri
from emulator.engagement import account_counts, post_counts
from emulator.state import Account, EmulatorState, Post
from emulator.timefmt import rfc3339

PLATFORM = "bluesky"
HANDLE_DOMAIN = "bsky.emulator"


def handle_of(account: Account) -> str:
    return f"{account.username.lower()}.{HANDLE_DOMAIN}"


def blob_url(base: str, did: str, cid: str) -> str:
    return f"{base}/xrpc/com.atproto.sync.getBlob?{urlencode({'did': did, 'cid': cid})}"


def did_doc(base: str, account: Account) -> dict[str, Any]:
    """The DID document a PDS returns with a session: its service entry is what SDKs (e.g.
    @atproto/api) switch their base URL to, so it points back at the emulator."""
    did = account.id
    return {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            "https://w3id.org/security/suites/secp256k1-2019/v1",
        ],
        "id": did,
        "alsoKnownAs": [f"at://{handle_of(account)}"],
        "verificationMethod": [
            {
                "id": f"{did}#atproto",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": fake_multikey(did),
            }
        ],
        "service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": base}
        ],
    }


def live_posts(state: EmulatorState, account: Account | None = None) -> list[Post]:
    return [
        p
        for p in state.posts.values()
        if p.platform == PLATFORM
        and not p.deleted
        and (account is None or p.account_id == account.id)
    ]


def profile_basic(account: Account) -> dict[str, Any]:
    return {
        "did": account.id,
        "handle": handle_of(account),
        "displayName": account.display_name,
        "associated": {"activitySubscription": {"allowSubscriptions": "followers"}},
        "viewer": {"muted": False, "blockedBy": False},
        "labels": [],
        "createdAt": rfc3339(account.created_at),
    }


def profile_detailed(state: EmulatorState, account: Account) -> dict[str, Any]:
    audience = account_counts(account, state.now())
    return {
        **profile_basic(account),
        "description": "",
        "followersCount": audience.followers,
        "followsCount": audience.following,
        "postsCount": len(live_posts(state, account)),
        "indexedAt": rfc3339(account.created_at),
    }


def _media_view(base: str, did: str, embed: dict[str, Any]) -> dict[str, Any] | None:
    kind = embed.get("$type")
    if kind == "app.bsky.embed.images":
        images = []
        for image in embed.get("images", []):
            cid = _blob_cid(image.get("image"))
            url = blob_url(base, did, cid) if cid else ""
            view: dict[str, Any] = {"thumb": url, "fullsize": url, "alt": image.get("alt", "")}
            if "aspectRatio" in image:
                view["aspectRatio"] = image["aspectRatio"]
            images.append(view)
        return {"$type": "app.bsky.embed.images#view", "images": images}
    if kind == "app.bsky.embed.video":
        cid = _blob_cid(embed.get("video")) or ""
        url = blob_url(base, did, cid)
        video: dict[str, Any] = {
            "$type": "app.bsky.embed.video#view",
            "cid": cid,
            "playlist": url,
            "thumbnail": url,
        }
        for name in ("alt", "aspectRatio"):
            if name in embed:
                video[name] = embed[name]
        return video
    if kind == "app.bsky.embed.external":
        external = dict(embed.get("external", {}))
        thumb = _blob_cid(external.pop("thumb", None))
        if thumb:
            external["thumb"] = blob_url(base, did, thumb)
        return {"$type": "app.bsky.embed.external#view", "external": external}
    return None


def _blob_cid(ref: Any) -> str | None:
    if not isinstance(ref, dict):
        return None
    link = ref.get("ref")
    if isinstance(link, dict) and isinstance(link.get("$link"), str):
        return str(link["$link"])
    cid = ref.get("cid")
    return cid if isinstance(cid, str) else None


def _record_view(base: str, state: EmulatorState, uri: str) -> dict[str, Any]:
    target = state.post(PLATFORM, uri)
    if target is None or target.deleted:
        return {"$type": "app.bsky.embed.record#viewNotFound", "uri": uri, "notFound": True}
    author = state.accounts[target.account_id]
    return {
        "$type": "app.bsky.embed.record#viewRecord",
        "uri": target.id,
        "cid": target.options["cid"],
        "author": profile_basic(author),
        "value": target.options["record"],
        "labels": [],
        "indexedAt": rfc3339(target.created_at),
        "replyCount": 0,
        "repostCount": 0,
        "likeCount": 0,
        "quoteCount": 0,
    }


def embed_view(base: str, state: EmulatorState, did: str, embed: Any) -> dict[str, Any] | None:
    if not isinstance(embed, dict):
        return None
    kind = embed.get("$type")
    if kind == "app.bsky.embed.record":
        uri = (embed.get("record") or {}).get("uri", "")
        return {"$type": "app.bsky.embed.record#view", "record": _record_view(base, state, uri)}
    if kind == "app.bsky.embed.recordWithMedia":
        inner = (embed.get("record") or {}).get("record") or {}
        media = _media_view(base, did, embed.get("media") or {})
        return {
            "$type": "app.bsky.embed.recordWithMedia#view",
            "record": {
                "record": _record_view(base, state, inner.get("uri", "")),
            },
            "media": media,
        }
    return _media_view(base, did, embed)


def post_view(
    base: str, state: EmulatorState, post: Post, viewer: Account | None = None
) -> dict[str, Any]:
    author = state.accounts[post.account_id]
    record = post.options["record"]
    replies = sum(
        1
        for p in state.posts.values()
        if p.platform == PLATFORM and not p.deleted and p.in_reply_to_id == post.id
    )
    grown = post_counts(post, state.now())
    view: dict[str, Any] = {
        "$type": "app.bsky.feed.defs#postView",
        "uri": post.id,
        "cid": post.options["cid"],
        "author": profile_basic(author),
        "record": record,
        "bookmarkCount": grown["saves"],
        "replyCount": replies + grown["comments"],
        "repostCount": grown["shares"],
        "likeCount": grown["likes"],
        "quoteCount": grown["quotes"],
        "indexedAt": rfc3339(post.created_at),
        "labels": [],
    }
    embed = embed_view(base, state, author.id, record.get("embed"))
    if embed is not None:
        view["embed"] = embed
    if viewer is not None:
        view["viewer"] = {"threadMuted": False, "embeddingDisabled": False, "pinned": False}
    return view


def _reply_target(base: str, state: EmulatorState, uri: str | None) -> dict[str, Any]:
    target = state.post(PLATFORM, uri) if uri else None
    if target is None or target.deleted:
        return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri or "", "notFound": True}
    return post_view(base, state, target)


def feed_view_post(
    base: str, state: EmulatorState, post: Post, viewer: Account | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"post": post_view(base, state, post, viewer)}
    if post.in_reply_to_id:
        item["reply"] = {
            "root": _reply_target(base, state, post.options.get("root")),
            "parent": _reply_target(base, state, post.in_reply_to_id),
        }
    return item


def rkey_of(post: Post) -> str:
    parts = split_at_uri(post.id)
    return parts[2] if parts else ""
