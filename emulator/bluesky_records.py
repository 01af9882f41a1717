"""app.bsky.feed.post validation, worded like @atproto/lexicon's validator so errors read as
the PDS's do: ``Invalid app.bsky.feed.post record: Record/text must not be longer than 300
graphemes``.

Lexicons followed: app.bsky.feed.post, app.bsky.richtext.facet, app.bsky.embed.images /
video / external / record / recordWithMedia, com.atproto.repo.strongRef.

One addition the real PDS does not make: facet byte ranges are checked against the UTF-8
text (in range, non-empty, on character boundaries). A real PDS stores such facets and the
app silently mis-highlights; the emulator refuses them so adapter bugs surface in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.atproto import (
    valid_at_uri,
    valid_datetime,
    valid_did,
    valid_language,
)
from emulator.graphemes import grapheme_length

POST_COLLECTION = "app.bsky.feed.post"
PROFILE_COLLECTION = "app.bsky.actor.profile"
IMAGE_MAX_SIZE = 1_000_000
VIDEO_MAX_SIZE = 100_000_000
MAX_IMAGES = 4
TEXT_MAX_GRAPHEMES = 300
TEXT_MAX_BYTES = 3000
EMBED_TYPES = (
    "app.bsky.embed.images",
    "app.bsky.embed.video",
    "app.bsky.embed.external",
    "app.bsky.embed.record",
    "app.bsky.embed.recordWithMedia",
)
FACET_FEATURES = (
    "app.bsky.richtext.facet#mention",
    "app.bsky.richtext.facet#link",
    "app.bsky.richtext.facet#tag",
)


class RecordInvalid(ValueError):
    """A lexicon violation; the message is the validator's, without the record prefix."""


@dataclass(frozen=True)
class BlobUse:
    """A blob a record references, with the constraints its lexicon position puts on it."""

    cid: str
    mime_type: str
    kind: str  # "image" or "video"
    accept: tuple[str, ...]
    max_size: int
    alt: str | None = None


@dataclass
class ParsedPost:
    text: str
    blobs: list[BlobUse] = field(default_factory=list)
    reply_root: str | None = None
    reply_parent: str | None = None
    embed_type: str | None = None


def _require_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordInvalid(f"{path} must be an object")
    return value


def _require(obj: dict[str, Any], name: str, path: str) -> Any:
    if name not in obj or obj[name] is None:
        raise RecordInvalid(f'{path} must have the property "{name}"')
    return obj[name]


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise RecordInvalid(f"{path} must be a string")
    return value


def _integer(value: Any, path: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordInvalid(f"{path} must be an integer")
    if minimum is not None and value < minimum:
        raise RecordInvalid(f"{path} can not be less than {minimum}")
    return value


def _array(value: Any, path: str, max_length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise RecordInvalid(f"{path} must be an array")
    if max_length is not None and len(value) > max_length:
        raise RecordInvalid(f"{path} must not have more than {max_length} elements")
    return value


def _limited_string(
    value: Any, path: str, max_bytes: int | None = None, max_graphemes: int | None = None
) -> str:
    text = _string(value, path)
    # maxLength counts UTF-8 bytes in the lexicon validator.
    if max_bytes is not None and len(text.encode()) > max_bytes:
        raise RecordInvalid(f"{path} must not be longer than {max_bytes} characters")
    if max_graphemes is not None and grapheme_length(text) > max_graphemes:
        raise RecordInvalid(f"{path} must not be longer than {max_graphemes} graphemes")
    return text


def _strong_ref(value: Any, path: str) -> str:
    ref = _require_object(value, path)
    uri = _string(_require(ref, "uri", path), f"{path}/uri")
    if not valid_at_uri(uri):
        raise RecordInvalid(f"{path}/uri must be a valid at-uri")
    _string(_require(ref, "cid", path), f"{path}/cid")
    return uri


def _blob_ref(value: Any, path: str) -> tuple[str, str]:
    """(cid, mimeType) of a blob ref, typed or legacy {cid, mimeType}."""
    if not isinstance(value, dict):
        raise RecordInvalid(f"{path} should be a blob ref")
    if value.get("$type") == "blob":
        ref = value.get("ref")
        link = ref.get("$link") if isinstance(ref, dict) else None
        mime = value.get("mimeType")
        size = value.get("size")
        if (
            not isinstance(link, str)
            or not isinstance(mime, str)
            or isinstance(size, bool)
            or not isinstance(size, int)
        ):
            raise RecordInvalid(f"{path} should be a blob ref")
        return link, mime
    if isinstance(value.get("cid"), str) and isinstance(value.get("mimeType"), str):
        return value["cid"], value["mimeType"]
    raise RecordInvalid(f"{path} should be a blob ref")


def _facets(value: Any, text: str) -> None:
    facets = _array(value, "Record/facets")
    encoded = text.encode()
    for index, raw in enumerate(facets):
        path = f"Record/facets/{index}"
        facet = _require_object(raw, path)
        slice_ = _require_object(_require(facet, "index", path), f"{path}/index")
        start = _integer(
            _require(slice_, "byteStart", f"{path}/index"), f"{path}/index/byteStart", 0
        )
        end = _integer(_require(slice_, "byteEnd", f"{path}/index"), f"{path}/index/byteEnd", 0)
        features = _array(_require(facet, "features", path), f"{path}/features")
        for number, raw_feature in enumerate(features):
            fpath = f"{path}/features/{number}"
            feature = _require_object(raw_feature, fpath)
            kind = feature.get("$type")
            if not isinstance(kind, str):
                raise RecordInvalid(f'{fpath} must have the property "$type"')
            if kind.endswith("#mention"):
                did = _string(_require(feature, "did", fpath), f"{fpath}/did")
                if not valid_did(did):
                    raise RecordInvalid(f"{fpath}/did must be a valid did")
            elif kind.endswith("#link"):
                _string(_require(feature, "uri", fpath), f"{fpath}/uri")
            elif kind.endswith("#tag"):
                _limited_string(_require(feature, "tag", fpath), f"{fpath}/tag", 640, 64)
        # The emulator's own check (see the module docstring).
        if start >= end:
            raise RecordInvalid(
                f"{path}/index byteStart ({start}) must be less than byteEnd ({end})"
            )
        if end > len(encoded):
            raise RecordInvalid(
                f"{path}/index byteEnd ({end}) is past the end of the text ({len(encoded)} bytes)"
            )
        for offset in (start, end):
            if offset < len(encoded) and encoded[offset] & 0xC0 == 0x80:
                raise RecordInvalid(f"{path}/index offset {offset} falls inside a UTF-8 character")


def _images(embed: dict[str, Any], path: str, parsed: ParsedPost) -> None:
    images = _array(_require(embed, "images", path), f"{path}/images", MAX_IMAGES)
    for index, raw in enumerate(images):
        ipath = f"{path}/images/{index}"
        image = _require_object(raw, ipath)
        cid, mime = _blob_ref(_require(image, "image", ipath), f"{ipath}/image")
        alt = _string(_require(image, "alt", ipath), f"{ipath}/alt")
        if "aspectRatio" in image:
            _aspect_ratio(image["aspectRatio"], f"{ipath}/aspectRatio")
        parsed.blobs.append(BlobUse(cid, mime, "image", ("image/*",), IMAGE_MAX_SIZE, alt))


def _aspect_ratio(value: Any, path: str) -> None:
    ratio = _require_object(value, path)
    _integer(_require(ratio, "width", path), f"{path}/width", 1)
    _integer(_require(ratio, "height", path), f"{path}/height", 1)


def _video(embed: dict[str, Any], path: str, parsed: ParsedPost) -> None:
    cid, mime = _blob_ref(_require(embed, "video", path), f"{path}/video")
    alt = None
    if "alt" in embed:
        alt = _limited_string(embed["alt"], f"{path}/alt", 10000, 1000)
    if "aspectRatio" in embed:
        _aspect_ratio(embed["aspectRatio"], f"{path}/aspectRatio")
    if "captions" in embed:
        _array(embed["captions"], f"{path}/captions", 20)
    parsed.blobs.append(BlobUse(cid, mime, "video", ("video/mp4",), VIDEO_MAX_SIZE, alt))


def _external(embed: dict[str, Any], path: str, parsed: ParsedPost) -> None:
    external = _require_object(_require(embed, "external", path), f"{path}/external")
    epath = f"{path}/external"
    _string(_require(external, "uri", epath), f"{epath}/uri")
    _string(_require(external, "title", epath), f"{epath}/title")
    _string(_require(external, "description", epath), f"{epath}/description")
    if external.get("thumb") is not None:
        cid, mime = _blob_ref(external["thumb"], f"{epath}/thumb")
        parsed.blobs.append(BlobUse(cid, mime, "image", ("image/*",), IMAGE_MAX_SIZE))


def _embed(value: Any, path: str, parsed: ParsedPost, nested: bool = False) -> None:
    embed = _require_object(value, path)
    kind = embed.get("$type")
    allowed = EMBED_TYPES if not nested else EMBED_TYPES[:3]
    if not isinstance(kind, str) or kind not in allowed:
        raise RecordInvalid(f"{path} $type must be one of {', '.join(allowed)}")
    if not nested:
        parsed.embed_type = kind
    if kind == "app.bsky.embed.images":
        _images(embed, path, parsed)
    elif kind == "app.bsky.embed.video":
        _video(embed, path, parsed)
    elif kind == "app.bsky.embed.external":
        _external(embed, path, parsed)
    elif kind == "app.bsky.embed.record":
        _strong_ref(_require(embed, "record", path), f"{path}/record")
    else:  # recordWithMedia
        record = _require_object(_require(embed, "record", path), f"{path}/record")
        _strong_ref(_require(record, "record", f"{path}/record"), f"{path}/record/record")
        _embed(_require(embed, "media", path), f"{path}/media", parsed, nested=True)


def parse_post(record: dict[str, Any], *, validate: bool = True) -> ParsedPost:
    """Checks an app.bsky.feed.post record; raises RecordInvalid with the validator's words.

    With ``validate=False`` (createRecord's ``validate: false``) only what the PDS needs
    regardless (blob references, reply refs) is read, leniently."""
    if not validate:
        return _lenient(record)
    text = _limited_string(
        _require(record, "text", "Record"), "Record/text", TEXT_MAX_BYTES, TEXT_MAX_GRAPHEMES
    )
    parsed = ParsedPost(text=text)
    if "facets" in record:
        _facets(record["facets"], text)
    if "reply" in record:
        reply = _require_object(record["reply"], "Record/reply")
        parsed.reply_root = _strong_ref(
            _require(reply, "root", "Record/reply"), "Record/reply/root"
        )
        parsed.reply_parent = _strong_ref(
            _require(reply, "parent", "Record/reply"), "Record/reply/parent"
        )
    if "embed" in record:
        _embed(record["embed"], "Record/embed", parsed)
    if "langs" in record:
        langs = _array(record["langs"], "Record/langs", 3)
        for index, lang in enumerate(langs):
            if not isinstance(lang, str) or not valid_language(lang):
                raise RecordInvalid(
                    f"Record/langs/{index} must be a well-formed BCP 47 language tag"
                )
    if "tags" in record:
        tags = _array(record["tags"], "Record/tags", 8)
        for index, tag in enumerate(tags):
            _limited_string(tag, f"Record/tags/{index}", 640, 64)
    created_at = _string(_require(record, "createdAt", "Record"), "Record/createdAt")
    if not valid_datetime(created_at):
        raise RecordInvalid(
            "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
        )
    return parsed


def _lenient(record: dict[str, Any]) -> ParsedPost:
    text = record.get("text")
    parsed = ParsedPost(text=text if isinstance(text, str) else "")
    reply = record.get("reply")
    if isinstance(reply, dict):
        for name in ("root", "parent"):
            ref = reply.get(name)
            uri = ref.get("uri") if isinstance(ref, dict) else None
            if isinstance(uri, str):
                setattr(parsed, f"reply_{name}", uri)
    embed = record.get("embed")
    if isinstance(embed, dict):
        try:
            _embed(embed, "Record/embed", parsed)
        except RecordInvalid:
            parsed.blobs.clear()
    return parsed
