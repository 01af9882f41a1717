"""Mastodon's treatment of status text: how it is counted and how it is rendered to HTML.

Counting follows StatusLengthValidator: every URL counts as 23 characters, a mention
``@user@domain`` counts as ``@user``, the spoiler text counts too, and length is measured in
grapheme clusters (approximated here without a Unicode segmentation library).

Rendering follows TextFormatter: HTML-escaped text, shortened links, hashtag and local
mention links, and Rails' ``simple_format`` paragraphs (blank line → ``</p><p>``, newline →
``<br />``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from emulator.graphemes import grapheme_length

CHARACTERS_RESERVED_PER_URL = 23

# Twitter-text as Mastodon configures it: only URLs with a scheme are URLs.
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING = ".,:;!?'\""
# Account::MENTION_RE: not preceded by a word character, '=' or '/'.
_MENTION = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_])?)(?:@([\w.-]+\w))?",
    re.IGNORECASE,
)
# Tag::HASHTAG_RE, simplified: at least one non-digit, not inside a word or a URL path.
_HASHTAG = re.compile(r"(?<![=/)\w#])#(\w*[^\W\d]\w*)")
_URL_PREFIX = re.compile(r"\Ahttps?://(www\.)?", re.IGNORECASE)

EntityKind = Literal["url", "mention", "hashtag"]


@dataclass(frozen=True)
class Entity:
    kind: EntityKind
    start: int
    end: int
    text: str  # the URL, the username, or the tag name
    domain: str | None = None  # for mentions


def _trim_url(url: str) -> str:
    """Drops trailing punctuation that ends the sentence rather than the URL."""
    while url:
        unbalanced = url[-1] == ")" and url.count("(") < url.count(")")
        if url[-1] in _URL_TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def extract_entities(text: str) -> list[Entity]:
    entities: list[Entity] = []
    for match in _URL.finditer(text):
        url = _trim_url(match.group(0))
        if url:
            entities.append(Entity("url", match.start(), match.start() + len(url), url))

    def free(start: int, end: int) -> bool:
        return all(end <= e.start or start >= e.end for e in entities)

    for match in _MENTION.finditer(text):
        if free(match.start(), match.end()):
            entities.append(
                Entity("mention", match.start(), match.end(), match.group(1), match.group(2))
            )
    for match in _HASHTAG.finditer(text):
        if free(match.start(), match.end()):
            entities.append(Entity("hashtag", match.start(), match.end(), match.group(1)))
    entities.sort(key=lambda e: e.start)
    return entities


def countable_text(text: str) -> str:
    """The text as the length validator sees it: URLs as 23 x's, mentions without domain."""
    pieces: list[str] = []
    cursor = 0
    for entity in extract_entities(text):
        if entity.kind == "hashtag":
            continue
        pieces.append(text[cursor : entity.start])
        if entity.kind == "url":
            pieces.append("x" * CHARACTERS_RESERVED_PER_URL)
        else:
            pieces.append(f"@{entity.text}")
        cursor = entity.end
    pieces.append(text[cursor:])
    return "".join(pieces)


# Ruby's String#strip: ASCII whitespace and NUL only (Status#prepare_contents strips text).
RUBY_WHITESPACE = " \t\n\v\f\r\0"


def strip_text(text: str) -> str:
    return text.strip(RUBY_WHITESPACE)


def status_length(text: str, spoiler_text: str = "") -> int:
    return grapheme_length(spoiler_text + countable_text(text))


def escape(text: str) -> str:
    """ERB::Util.html_escape: & < > " and ' (as &#39;)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def shortened_link(url: str) -> str:
    """TextFormatter.shortened_link: scheme and www hidden, 30 visible characters."""
    prefix_match = _URL_PREFIX.match(url)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = url[len(prefix) :]
    display, suffix = rest[:30], rest[30:]
    ellipsis = "ellipsis" if len(rest) > 30 else ""
    return (
        f'<a href="{escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{escape(prefix)}</span>'
        f'<span class="{ellipsis}">{escape(display)}</span>'
        f'<span class="invisible">{escape(suffix)}</span></a>'
    )


@dataclass(frozen=True)
class ResolvedMention:
    id: str
    username: str
    acct: str
    url: str


@dataclass(frozen=True)
class Rendered:
    html: str
    mentions: list[ResolvedMention]
    tags: list[str]


def render(
    text: str,
    resolve_mention: Callable[[str, str | None], ResolvedMention | None],
    tag_url: Callable[[str], str],
) -> Rendered:
    if not text.strip():
        return Rendered("", [], [])
    html_parts: list[str] = []
    mentions: list[ResolvedMention] = []
    tags: list[str] = []
    cursor = 0
    for entity in extract_entities(text):
        html_parts.append(escape(text[cursor : entity.start]))
        original = text[entity.start : entity.end]
        if entity.kind == "url":
            html_parts.append(shortened_link(entity.text))
        elif entity.kind == "hashtag":
            html_parts.append(
                f'<a href="{escape(tag_url(entity.text))}" class="mention hashtag" rel="tag">'
                f"#<span>{escape(entity.text)}</span></a>"
            )
            if entity.text.lower() not in (t.lower() for t in tags):
                tags.append(entity.text)
        else:
            resolved = resolve_mention(entity.text, entity.domain)
            if resolved is None:
                # Unknown accounts stay plain text, as on a real instance.
                html_parts.append(escape(original))
            else:
                html_parts.append(
                    f'<span class="h-card" translate="no"><a href="{escape(resolved.url)}" '
                    f'class="u-url mention">@<span>{escape(resolved.username)}</span></a></span>'
                )
                if resolved not in mentions:
                    mentions.append(resolved)
        cursor = entity.end
    html_parts.append(escape(text[cursor:]))
    return Rendered(simple_format("".join(html_parts)), mentions, tags)


_PARAGRAPH_BREAK = re.compile(r"\n\n+")
_LINE_BREAK = re.compile(r"([^\n]\n)(?=[^\n])")


def simple_format(html: str) -> str:
    """Rails' simple_format followed by Mastodon's ``.delete("\\n")``."""
    normalised = html.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = _PARAGRAPH_BREAK.split(normalised)
    while paragraphs and not paragraphs[-1]:
        paragraphs.pop()  # Ruby's String#split drops trailing empty fields
    paragraphs = [_LINE_BREAK.sub(r"\1<br />", p) for p in paragraphs]
    return "".join(f"<p>{p}</p>" for p in paragraphs).replace("\n", "")
