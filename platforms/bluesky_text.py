"""Bluesky post text: grapheme counting (the 300 limit), rich-text facet detection with UTF-8
byte offsets, and deterministic record keys (TIDs).

References: docs.bsky.app "Links, mentions, and rich text" (facets index UTF-8 bytes, start
inclusive, end exclusive), the app.bsky.richtext.facet lexicon (tags at most 64 graphemes),
atproto.com/specs/record-key (TID syntax), Unicode UAX #29 (extended grapheme clusters).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_TAG_GRAPHEMES = 64

# -- graphemes ----------------------------------------------------------------------------------

_ZWJ = 0x200D


def _is_extend(code: int) -> bool:
    """Grapheme_Extend, SpacingMark and the emoji modifiers: never the start of a cluster."""
    if 0x1F3FB <= code <= 0x1F3FF or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return True
    if 0xE0020 <= code <= 0xE007F or code == _ZWJ:
        return True
    return unicodedata.category(chr(code)) in ("Mn", "Me", "Mc")


def _is_pictographic(code: int) -> bool:
    """Extended_Pictographic, approximately: the emoji blocks and the older symbol ranges."""
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x2300 <= code <= 0x23FF
        or code in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D)
        or 0x2B00 <= code <= 0x2BFF
    )


def _hangul(code: int) -> str | None:
    """Hangul_Syllable_Type: L, V, T, LV or LVT."""
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return "L"
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return "V"
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return "T"
    if 0xAC00 <= code <= 0xD7A3:
        return "LV" if (code - 0xAC00) % 28 == 0 else "LVT"
    return None


def _hangul_joins(before: str | None, after: str | None) -> bool:
    if before is None or after is None:
        return False
    if before == "L":
        return after in ("L", "V", "LV", "LVT")
    if before in ("LV", "V"):
        return after in ("V", "T")
    return before in ("LVT", "T") and after == "T"


def grapheme_count(text: str) -> int:
    """User-perceived characters, as Intl.Segmenter (which Bluesky uses) counts them: the
    UAX #29 rules for CRLF, marks, emoji ZWJ sequences, flags and Hangul syllables. Prepend
    characters and Indic conjunct rules are not modelled (they only ever make a count
    larger, so validation errs on the strict side)."""
    count = 0
    previous: int | None = None
    regional_run = 0
    in_emoji = False  # inside a pictographic base followed by extenders
    for char in text:
        code = ord(char)
        regional = 0x1F1E6 <= code <= 0x1F1FF
        joins = previous is not None and (
            (previous == 0x0D and code == 0x0A)
            or (_is_extend(code) and previous not in (0x0D, 0x0A))
            or (previous == _ZWJ and in_emoji and _is_pictographic(code))
            or (regional and regional_run % 2 == 1)
            or _hangul_joins(_hangul(previous), _hangul(code))
        )
        if not joins:
            count += 1
            in_emoji = _is_pictographic(code)
        elif _is_pictographic(code):
            in_emoji = True
        regional_run = regional_run + 1 if regional else 0
        previous = code
    return count


# -- facets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A facet candidate: UTF-8 byte range and what it points at (a URL, a handle, a tag)."""

    byte_start: int
    byte_end: int
    value: str


# A URL starts a word (or follows "("); trailing sentence punctuation is not part of it.
_LINK = re.compile(r"(?:^|(?<=[\s(]))(https?://[^\s]+)", re.IGNORECASE)
# Handles are domain names: labels of letters, digits and hyphens, at least one dot.
_MENTION = re.compile(
    r"(?:^|(?<=[\s(]))@([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+)"
)
_TAG_START = re.compile(r"(?:^|(?<=\s))[#\uff03]")
# Characters that end a hashtag: whitespace and the invisible joiners/soft hyphen.
_TAG_BREAK = frozenset("\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _span(text: str, start: int, end: int, value: str) -> Span:
    return Span(_byte_offset(text, start), _byte_offset(text, end), value)


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def find_links(text: str) -> list[Span]:
    """http(s) URLs. Bare domains ("example.com") are not linked: telling them from words
    needs the TLD list the official app carries."""
    spans = []
    for match in _LINK.finditer(text):
        url = match.group(1)
        url = url.rstrip(".,;:!?'\"")
        if url.endswith(")") and "(" not in url:
            url = url[:-1]
        if len(url) > len("https://"):
            start = match.start(1)
            spans.append(_span(text, start, start + len(url), url))
    return spans


def find_mentions(text: str) -> list[Span]:
    """`@handle` candidates (the value is the handle, without "@"); the caller resolves each
    handle to a DID and drops those that do not resolve."""
    spans = []
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".")
        start = match.start(0)
        spans.append(_span(text, start, start + 1 + len(handle), handle.lower()))
    return spans


def find_tags(text: str) -> list[Span]:
    """Hashtags: "#" at a word start, up to whitespace, without trailing punctuation, not all
    digits, at most 64 graphemes (the value has no "#")."""
    spans = []
    for match in _TAG_START.finditer(text):
        start = match.start()
        end = match.end()
        while end < len(text) and not text[end].isspace() and text[end] not in _TAG_BREAK:
            end += 1
        tag = text[match.end() : end]
        while tag and _is_punctuation(tag[-1]):
            tag = tag[:-1]
        if tag.startswith("\ufe0f"):
            continue  # "#️⃣" is the keycap emoji, not a tag
        if not tag or tag.isdigit() or grapheme_count(tag) > MAX_TAG_GRAPHEMES:
            continue
        if all(c.isdigit() or _is_punctuation(c) for c in tag):
            continue
        spans.append(_span(text, start, match.end() + len(tag), tag))
    return spans


def hashtags_of(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(span.value.lower() for span in find_tags(text)))


# -- record keys --------------------------------------------------------------------------------

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# Keys derived without a start time (publishes from before keys carried one) sit in the
# 12.7 days after this instant (2^40 µs): in the past and plausible, but far from their post's
# time, so they sort out of order among the account's records.
_LEGACY_EPOCH_US = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
_LEGACY_SPREAD_BITS = 40
# A derived key's time lies this far before the publish began (a hash-chosen microsecond in
# the millisecond before it, so keys keep their publishes' order to within a millisecond and
# name a time before the write, never a future one, which relays distrust); thread parts follow
# their head a microsecond
# apart. With the 10-bit clock id that leaves about 2^20 keys per millisecond: publishes to
# one account that begin within the same millisecond can still meet, which `record_key`'s
# `alternate` resolves.
_KEY_SPREAD_US = 1_000


def _encode_tid(micros: int, clock_id: int) -> str:
    value = (micros << 10) | clock_id
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _digest(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")


def record_key(seed: str, part: int, started_at: datetime, alternate: int = 0) -> str:
    """The TID a publish writes part `part` of its thread at (0 is the head): the same seed
    and start always name the same key, so a repeated createRecord collides with the first
    instead of duplicating the post, and the key's time is the publish's own, so the record
    sorts among the account's others where it belongs (listRecords orders by key).
    `alternate` names the next keys to try when another publish's record holds this one."""
    digest = _digest(seed if alternate == 0 else f"{seed}#alternate-{alternate}")
    lead = 1 + digest % (_KEY_SPREAD_US - 1)
    micros = int(started_at.timestamp() * 1_000_000) - lead + part
    return _encode_tid(micros, (digest >> 32) & 0x3FF)


def legacy_record_key(seed: str, part: int) -> str:
    """The key a publish without a start time used for the part: time and clock id from a
    hash of the seed alone."""
    digest = _digest(f"{seed}#{part}")
    micros = _LEGACY_EPOCH_US + (digest >> (64 - _LEGACY_SPREAD_BITS))
    return _encode_tid(micros, digest & 0x3FF)


def tid_time(tid: str) -> datetime | None:
    """When a TID says it was made (None for keys that are not TIDs)."""
    if len(tid) != 13 or any(c not in _TID_ALPHABET for c in tid):
        return None
    value = 0
    for char in tid:
        value = value * 32 + _TID_ALPHABET.index(char)
    try:
        return datetime.fromtimestamp((value >> 10) / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
