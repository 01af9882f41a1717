"""X's weighted Tweet length, as twitter-text v3 counts it (the adapter's own implementation).

twitter-text v3 ("config/v3.json"): the text is NFC-normalised; every URL counts as 23
(``transformedURLLength``) whatever its real length; an emoji sequence (with its skin-tone
modifiers, variation selectors and zero-width joiners) counts 2; any other code point counts 1
inside the ranges below (Latin, general punctuation) and 2 outside them (CJK, most symbols).
The limit is 280 weighted characters.

Approximations: emoji are recognised by code-point ranges rather than twitter-text's generated
emoji regex, and bare domains (no scheme) only with a common subset of TLDs.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
_SCALE = 100
_DEFAULT_WEIGHT = 200
# config/v3.json "ranges", each with weight 100.
_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

_TLD = (
    "com|org|net|edu|gov|mil|int|info|biz|name|pro|io|co|dev|app|ai|me|tv|ly|gl|gg|xyz|"
    "social|online|site|tech|blog|news|link|page|cloud|shop|store|"
    "uk|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|pt|ie|cz|jp|cn|kr|in|au|nz|ca|us|br|mx|ar|ru"
)
_URL = re.compile(
    r"https?://[^\s<>\"]+"
    r"|(?<![\w@.:/-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:" + _TLD + r")"
    r"(?![\w-])(?::\d{1,5})?(?:/[^\s<>\"]*)?",
    re.IGNORECASE,
)
_TRAILING = ".,:;!?'\""

_PICTOGRAPH = (
    "\u2190-\u21ff\u2300-\u23ff\u25a0-\u25ff\u2600-\u27bf\u2900-\u297f\u2b00-\u2bff"
    "\U0001f000-\U0001faff"
)
_MODIFIERS = "\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"
_ONE_EMOJI = (
    f"(?:[{_PICTOGRAPH}]|[\u00a9\u00ae\u203c\u2049\u2122\u2139\u3030\u303d\u3297\u3299]\ufe0f)"
)
_EMOJI = re.compile(
    r"[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
    r"|[0-9#*]\ufe0f?\u20e3"  # a keycap
    rf"|{_ONE_EMOJI}[{_MODIFIERS}]*(?:\u200d{_ONE_EMOJI}[{_MODIFIERS}]*)*"
)


def _trim(url: str) -> str:
    while url:
        unbalanced = url[-1] == ")" and url.count("(") < url.count(")")
        if url[-1] in _TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def url_spans(text: str) -> list[tuple[int, int]]:
    """Where the URLs are (code-point offsets), trailing punctuation left out."""
    spans = []
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        if url:
            spans.append((match.start(), match.start() + len(url)))
    return spans


def _char_weight(char: str) -> int:
    code = ord(char)
    if any(low <= code <= high for low, high in _LIGHT):
        return _SCALE
    return _DEFAULT_WEIGHT


def _plain_weight(segment: str) -> int:
    total = 0
    cursor = 0
    for match in _EMOJI.finditer(segment):
        total += sum(_char_weight(c) for c in segment[cursor : match.start()])
        total += _DEFAULT_WEIGHT
        cursor = match.end()
    return total + sum(_char_weight(c) for c in segment[cursor:])


def weighted_length(text: str) -> int:
    normalised = unicodedata.normalize("NFC", text)
    total = 0
    cursor = 0
    for start, end in url_spans(normalised):
        total += _plain_weight(normalised[cursor:start]) + URL_WEIGHT * _SCALE
        cursor = end
    total += _plain_weight(normalised[cursor:])
    return total // _SCALE
