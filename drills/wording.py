"""Small helpers for the words of messages a user reads."""

from __future__ import annotations


def article(noun: str) -> str:
    """`noun` with its indefinite article, by its first letter as our vocabulary spells it:
    "a knife", "an assaultive", "an officer_action"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def count_of(n: int, noun: str) -> str:
    """`1 point`, `2 points`, `0 hits`: a count with its noun, singular for one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
