"""Text columns as a terminal draws them: every table the CLI prints pads its cells here.

`str.ljust` and `f"{s:<28}"` count code points, but a terminal gives an East Asian wide or
fullwidth character (李, most emoji: 🚓) two columns and a combining mark (the ¨ of a
decomposed Zoë) or a zero-width joiner none, so a row holding an officer named
"Ofc. Zoë 李 🚓" sat two columns right of the others (nu23 #9).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Literal

# Drawn in no column of their own: combining marks (Mn nonspacing, Me enclosing), format
# characters (Cf: zero-width joiner and space, soft hyphen, direction marks) and controls.
_ZERO_WIDTH = frozenset({"Mn", "Me", "Cf", "Cc"})
_ZWJ = "\u200d"
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")  # the Fitzpatrick modifiers, drawn into the emoji


def display_width(text: str) -> int:
    """How many terminal columns `text` takes: 2 for a wide or fullwidth character (Unicode
    East Asian Width W or F, which takes in the emoji drawn as pictures), 0 for a combining
    mark or a zero-width character, 1 for the rest. An emoji joined to the one before it (by
    a zero-width joiner: 👨‍👩‍👧, or a skin-tone modifier: 👍🏽) is drawn as one picture with it."""
    width = 0
    joined = False  # the character before was a zero-width joiner
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in _ZERO_WIDTH:
            joined = ch == _ZWJ
            continue
        if not (joined or (i > 0 and _SKIN_TONES[0] <= ch <= _SKIN_TONES[1])):
            width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        joined = False
    return width


def pad(value: object, width: int, align: Literal["<", ">"] = "<") -> str:
    """`value` as text filled with spaces to `width` display columns: on the right (`<`, the
    default, text) or on the left (`>`, numbers); text already as wide or wider is kept whole."""
    text = str(value)
    fill = " " * max(0, width - display_width(text))
    return text + fill if align == "<" else fill + text


def column_width(cells: Iterable[object], minimum: int = 0) -> int:
    """The display width of a column that holds `cells` whole: its widest cell, at least
    `minimum` (the header's width, or the width the column had before it grew)."""
    return max([minimum, *(display_width(str(c)) for c in cells)])
