"""`python -m bench`: runs every benchmark module in this folder."""

from __future__ import annotations

import sys


def main() -> int:
    print("no benchmarks yet", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
