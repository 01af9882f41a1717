"""LinkedIn commentary text: the "little" format and length as LinkedIn counts it.

Post commentary is "little" text (learn.microsoft.com "little Text Format"): the characters
``| { } @ [ ] ( ) < > # * _ ~ \\`` are reserved and must be backslash-escaped to be plain
text; LinkedIn cuts a post at the first unescaped one. Hashtags (``#word``) and URLs are left
as they are so that LinkedIn still links them.
"""

from __future__ import annotations

import re

RESERVED = frozenset("|{}@[]()<>#\\*_~")
MAX_COMMENTARY = 3000

_URL = re.compile(r"https?://[^\s]+")
_HASHTAG = re.compile(r"#\w")
_TRAILING = ".,;:!?'\")]}>"
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_MENTION = re.compile(r"@\[([^\]\\]*)\]\(urn:li:[a-z]+:[A-Za-z0-9_-]+\)")


def url_at(text: str, index: int) -> str | None:
    """The URL starting at `index`, without the punctuation that usually follows one."""
    if text[index] not in "hH" or (index > 0 and text[index - 1].isalnum()):
        return None
    found = _URL.match(text, index)
    return found.group(0).rstrip(_TRAILING) if found else None


def escape_little(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        url = url_at(text, index)
        if url:
            out.append(url)
            index += len(url)
            continue
        if char == "#" and _HASHTAG.match(text, index):
            out.append(char)
        elif char in RESERVED:
            out.append("\\" + char)
        else:
            out.append(char)
        index += 1
    return "".join(out)


def unescape_little(commentary: str) -> str:
    """Plain text of a commentary: mentions become the name, escapes the character."""
    return _ESCAPED.sub(r"\1", _MENTION.sub(r"\1", commentary))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def commentary_length(text: str) -> int:
    """UTF-16 code units of the escaped commentary: what LinkedIn's 3000 limit counts."""
    return utf16_length(escape_little(text))
