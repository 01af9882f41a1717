"""Writes the synchronous client from the asynchronous one (as httpcore does with unasync):
`python clients/python/scripts/unasync.py` after editing herald_client/_async/client.py;
`--check` exits 1 when the generated file is out of date."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "herald_client"
SOURCE = PACKAGE / "_async" / "client.py"
TARGET = PACKAGE / "_sync" / "client.py"

# Applied in order, as whole words where that matters.
REPLACEMENTS: list[tuple[str, str]] = [
    (r"^import asyncio\n", ""),
    (r"await asyncio\.sleep\(", "time.sleep("),
    (r"\bAsyncHeraldClient\b", "HeraldClient"),
    (r"\bhttpx\.AsyncBaseTransport\b", "httpx.BaseTransport"),
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAwaitable\[(Page\[\w+\])\]", r"\1"),
    (r", Awaitable,", ","),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    # A sync generator may hand a page on whole.
    (r"for (\w+) in page\.data:\n\s+yield \1\n", "yield from page.data\n"),
    (
        r'^"""The asynchronous client\..*?"""\n',
        '"""The synchronous client: GENERATED from herald_client/_async/client.py by\n'
        'scripts/unasync.py. Do not edit; edit the async client and regenerate."""\n',
    ),
]


def _ruff(*args: str, text: str) -> str:
    """The repository's ruff over the text: imports sorted and lines joined as it wants."""
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), *args, "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def generate() -> str:
    text = SOURCE.read_text()
    for pattern, replacement in REPLACEMENTS:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE | re.DOTALL)
    text = _ruff("check", "--fix", "--select", "I", "--quiet", text=text)
    return _ruff("format", "--quiet", text=text)


def main() -> int:
    text = generate()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            sys.stderr.write(f"{TARGET} is out of date: run {Path(__file__).name}\n")
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
