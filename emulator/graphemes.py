"""User-perceived characters (extended grapheme clusters), approximated without a Unicode
segmentation library.

Mastodon counts status length in grapheme clusters, Bluesky limits post text to 300 of them
(Intl.Segmenter in the reference implementation), and twitter-text weighs a whole emoji
sequence as one unit. The approximation: marks, variation selectors, skin tones, tag
characters and ZWJ sequences join the previous character; a pair of regional indicators (a
flag) and CRLF count once. Hangul syllable composition from jamo and Indic conjuncts are not
modelled.
"""

from __future__ import annotations

import unicodedata


def _extends_previous(code: int) -> bool:
    """Code points that never start a grapheme cluster of their own."""
    char = chr(code)
    return (
        unicodedata.category(char) in {"Mn", "Me", "Mc"}
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
        or code == 0x200D  # zero-width joiner
    )


def _regional_indicator(code: int) -> bool:
    return 0x1F1E6 <= code <= 0x1F1FF


def grapheme_clusters(text: str) -> list[str]:
    clusters: list[str] = []
    previous: int | None = None
    regional_run = 0
    for char in text:
        code = ord(char)
        joins = previous is not None and (
            _extends_previous(code)
            or previous == 0x200D
            or (previous == 0x0D and code == 0x0A)
            or (_regional_indicator(code) and regional_run % 2 == 1)
        )
        if joins:
            clusters[-1] += char
        else:
            clusters.append(char)
        regional_run = regional_run + 1 if _regional_indicator(code) else 0
        previous = code
    return clusters


def grapheme_length(text: str) -> int:
    return len(grapheme_clusters(text))
