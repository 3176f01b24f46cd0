"""Printable text: a user's string made safe to print, so that it can neither start a line nor a terminal sequence."""

from __future__ import annotations

import unicodedata

#: Unicode categories that break or control a line: control characters, line and paragraph separators.
_CONTROL_CATEGORIES = {"Cc", "Zl", "Zp"}
#: Bidirectional controls, which reorder what a reader sees without being seen.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_SHORT_ESCAPES = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}


def visible(text: str) -> str:
    """``text`` with every control character written out as its escape, as Python's repr does.

    A newline becomes ``\\n`` and ESC ``\\x1b``: a name in a report cannot forge a line of it
    (``y5\\n✓ dL/dw13 = 999``) nor move a terminal's cursor. Other characters are kept as they are.

    Example:
        >>> visible("y5\\n✓ dL/dw13 = 999\\x1b[2J")
        'y5\\\\n✓ dL/dw13 = 999\\\\x1b[2J'
    """
    if text.isprintable():  # NOTE: the common case, and a safe one: isprintable() is False for every escaped character
        return text
    return "".join(_escaped(character) if _controls(character) else character for character in text)


def _controls(character: str) -> bool:
    return unicodedata.category(character) in _CONTROL_CATEGORIES or character in _BIDI_CONTROLS


def _escaped(character: str) -> str:
    code = ord(character)
    return _SHORT_ESCAPES.get(character) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
