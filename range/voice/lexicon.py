"""The recogniser's dictionary as a phrase-book check: every word of an agency's phrase book
must be in PocketSphinx's en-us dictionary or under its `[pronunciations]`, or the file is
refused with its line and field (docs/speech.md, "Phrase book") before anything is decoded."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from drills.speech import PhraseBook, builtin_phrasebook, parse_phrasebook, phrasebook
from physics.datafiles import DataFileError, Problem, key_lines, locate, read_text


@cache
def en_us_words() -> frozenset[str]:
    """The words of PocketSphinx's en-us pronouncing dictionary (variants folded)."""
    import pocketsphinx

    path = os.path.join(pocketsphinx.get_model_path(), "en-us", "cmudict-en-us.dict")
    with open(path, encoding="utf-8") as lines:
        return frozenset(line.partition(" ")[0].split("(")[0] for line in lines)


def unknown_words(book: PhraseBook) -> set[str]:
    """The book's words that neither the en-us dictionary nor its [pronunciations] knows."""
    return book.words() - en_us_words() - set(book.pronunciations)


def load_phrases(extra: Path | None) -> PhraseBook:
    """The phrase book a recogniser uses: the built-in one with the agency's file `extra`
    merged in (drills.speech.phrasebook). Raises DataFileError naming the agency file, the
    line and the field of each phrase with a word the recogniser cannot pronounce."""
    book = phrasebook(extra)
    if extra is None:
        return book
    unknown = unknown_words(book)
    if not unknown:
        return book
    text = read_text(extra)
    lines = key_lines(text)
    builtin = builtin_phrasebook().phrase_acts()
    problems: list[Problem] = []
    # The agency's entries in its file's order: an entry's index is its [[acts]] index.
    for index, entry in enumerate(parse_phrasebook(text, extra).acts):
        for phrase in entry.phrases:
            if phrase in builtin:
                continue
            for word in phrase.split():
                if word in unknown:
                    problems.append(
                        Problem(
                            locate(lines, ("acts", index, "phrases")),
                            f"acts[{index}].phrases",
                            f"{word!r} (in {phrase!r}) is not in the en-us dictionary: add it"
                            ' under [pronunciations] in CMU phones (e.g. tased = "T EY Z D")',
                        )
                    )
    if not problems:  # not the agency's words: the built-in book's, which a test keeps known
        problems = [Problem(None, "", f"words not in the en-us dictionary: {sorted(unknown)}")]
    raise DataFileError(extra, problems)
