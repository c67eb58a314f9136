"""Text shown to a person with its invisible characters made visible.

A name that holds a zero-width space, a byte-order mark or a non-breaking space looks
exactly like the registered name it fails to match ("unknown team 'Willow Ward'"),
and a file name can hold the escape codes that recolour or clear a terminal.
:func:`visible` writes each such character as ``<U+200B>``, and :func:`explained`
adds what each one is, in words:

>>> visible("Willow\\u00a0Ward")
'Willow<U+00A0>Ward'
>>> explained("unknown team 'Willow\\u200bWard'")
"unknown team 'Willow<U+200B>Ward' (<U+200B> is a zero-width space, which cannot be seen)"

Invisible means what Python's :meth:`str.isprintable` says is not printable (control
and format characters, separators other than the space, unassigned and private-use
code points) and a few letters that are drawn as blanks (Hangul fillers, the blank
Braille pattern).
"""

from __future__ import annotations

import re
import unicodedata

#: Letters and symbols that are printable by Unicode's categories but drawn as blanks.
_BLANK_LOOKING = "\u115f\u1160\u2800\u3164\uffa0"
_BLANK = re.compile(f"[{_BLANK_LOOKING}]")

#: What the common invisible characters are, in words.
NAMES = {
    0x00A0: "a non-breaking space, which looks like a space",
    0x202F: "a narrow non-breaking space, which looks like a space",
    0x2007: "a figure space, which looks like a space",
    0x2009: "a thin space, which looks like a space",
    0xFEFF: "a byte-order mark, which cannot be seen",
    0x200B: "a zero-width space, which cannot be seen",
    0x200C: "a zero-width non-joiner, which cannot be seen",
    0x200D: "a zero-width joiner, which cannot be seen",
    0x2060: "a word joiner, which cannot be seen",
    0x00AD: "a soft hyphen, which cannot be seen",
    0x0009: "a tab",
    0x000A: "a line break",
    0x000D: "a carriage return (part of a line break)",
    0x001B: "an escape code (it can recolour or clear a terminal)",
}


def _invisible(ch: str) -> bool:
    return not ch.isprintable() or ch in _BLANK_LOOKING


def visible(text: object) -> str:
    """``text`` with every invisible character written as ``<U+XXXX>``."""
    value = str(text)
    if value.isprintable() and not _BLANK.search(value):
        return value
    return "".join(f"<U+{ord(ch):04X}>" if _invisible(ch) else ch for ch in value)


def invisible_characters(text: object) -> list[str]:
    """The distinct invisible characters of ``text``, in order of first appearance."""
    value = str(text)
    if value.isprintable() and not _BLANK.search(value):
        return []
    return list(dict.fromkeys(ch for ch in value if _invisible(ch)))


def describe(ch: str) -> str:
    """What an invisible character is, in words."""
    known = NAMES.get(ord(ch))
    if known:
        return known
    name = unicodedata.name(ch, "").lower()
    return f"the invisible character {name}" if name else "an invisible character"


def explained(text: object) -> str:
    """:func:`visible` ``text``, followed by what each invisible character in it is."""
    found = invisible_characters(text)
    if not found:
        return str(text)
    notes = "; ".join(f"<U+{ord(ch):04X}> is {describe(ch)}" for ch in found)
    return f"{visible(text)} ({notes})"
