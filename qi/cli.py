"""The ``qi`` command line (filled in by the store work)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("qi: no commands yet", file=sys.stderr)
    return 2
