"""X's weighted Tweet length (twitter-text v3 configuration), and t.co link wrapping.

twitter-text v3: the text is NFC-normalised; every URL (with or without a scheme, when the
domain has a known TLD) counts as 23; an emoji sequence counts 2 however many code points it
has; any other code point counts 1 inside the Latin/punctuation ranges below and 2 outside
them (CJK, most symbols). The limit is 280 weighted characters.

Approximations: emoji are recognised by code-point ranges rather than the full emoji regex,
and the TLD list is a common subset of twitter-text's.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from dataclasses import dataclass

from emulator.graphemes import grapheme_clusters

MAX_WEIGHTED_LENGTH = 280
SCALE = 100
DEFAULT_WEIGHT = 200
TRANSFORMED_URL_LENGTH = 23
# twitter-text config/v3.json "ranges": weight 100 (one character) inside these.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|name|pro|io|co|dev|app|ai|me|tv|ly|gl|gg|xyz|"
    "social|online|site|tech|blog|news|link|page|cloud|shop|store|"
    "uk|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|pt|ie|cz|jp|cn|kr|in|au|nz|ca|us|br|mx|ar|ru"
)
_URL = re.compile(
    r"(?:https?://[^\s<>\"]+)"
    r"|(?<![\w@.:/-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:" + _TLDS + r")"
    r"(?![\w-])(?::\d{1,5})?(?:/[^\s<>\"]*)?",
    re.IGNORECASE,
)
_URL_TRAILING = ".,:;!?'\""


@dataclass(frozen=True)
class UrlEntity:
    start: int  # code-point offsets in the normalised text
    end: int
    url: str


def _trim(url: str) -> str:
    while url:
        unbalanced = url[-1] == ")" and url.count("(") < url.count(")")
        if url[-1] in _URL_TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def extract_urls(text: str) -> list[UrlEntity]:
    entities = []
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        if url:
            entities.append(UrlEntity(match.start(), match.start() + len(url), url))
    return entities


def _is_emoji(cluster: str) -> bool:
    first = ord(cluster[0])
    return (
        0x1F000 <= first <= 0x1FAFF  # emoticons, pictographs, transport, flags, supplemental
        or 0x2600 <= first <= 0x27BF  # misc symbols and dingbats
        or 0x2B00 <= first <= 0x2BFF
        or "\ufe0f" in cluster
        or "\u20e3" in cluster  # keycaps
    )


def _char_weight(char: str) -> int:
    code = ord(char)
    for low, high in _LIGHT_RANGES:
        if low <= code <= high:
            return 100
    return DEFAULT_WEIGHT


def _segment_weight(segment: str) -> int:
    total = 0
    for cluster in grapheme_clusters(segment):
        if _is_emoji(cluster):
            total += DEFAULT_WEIGHT
        else:
            total += sum(_char_weight(char) for char in cluster)
    return total


def weighted_length(text: str) -> int:
    normalised = unicodedata.normalize("NFC", text)
    total = 0
    cursor = 0
    for entity in extract_urls(normalised):
        total += _segment_weight(normalised[cursor : entity.start])
        total += TRANSFORMED_URL_LENGTH * SCALE
        cursor = entity.end
    total += _segment_weight(normalised[cursor:])
    return total // SCALE


def tco_link() -> str:
    alphabet = string.ascii_letters + string.digits
    return "https://t.co/" + "".join(secrets.choice(alphabet) for _ in range(10))


@dataclass(frozen=True)
class WrappedUrl:
    start: int
    end: int
    url: str  # the t.co link
    expanded_url: str
    display_url: str


def wrap_urls(text: str) -> tuple[str, list[WrappedUrl]]:
    """The text as X stores and returns it: every URL replaced by a t.co link."""
    pieces: list[str] = []
    wrapped: list[WrappedUrl] = []
    cursor = 0
    length = 0
    for entity in extract_urls(text):
        before = text[cursor : entity.start]
        pieces.append(before)
        length += len(before)
        link = tco_link()
        expanded = entity.url if "://" in entity.url else f"http://{entity.url}"
        display = re.sub(r"\A(?:https?://)?(?:www\.)?", "", entity.url)
        display = display if len(display) <= 25 else display[:24] + "…"
        wrapped.append(WrappedUrl(length, length + len(link), link, expanded, display))
        pieces.append(link)
        length += len(link)
        cursor = entity.end
    pieces.append(text[cursor:])
    return "".join(pieces), wrapped
