"""Small helpers for the words of messages a user reads."""

from __future__ import annotations


def article(noun: str) -> str:
    """`noun` with its indefinite article, by its first letter as our vocabulary spells it:
    "a knife", "an assaultive", "an officer_action"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
