"""The recogniser's models as a phrase-book check. The book's `language` selects the acoustic
model and pronouncing dictionary (`installed_languages`, `model_files`); every word of an
agency's phrase book must be in that dictionary or under its `[pronunciations]`. A language
with no installed model, or a word no dictionary knows, is refused with the file's line and
field (docs/speech.md, "Phrase book") before anything is decoded."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from drills.speech import PhraseBook, builtin_phrasebook, merged, phrasebook
from physics.datafiles import (
    DataFileError,
    Problem,
    key_lines,
    locate,
    parse_model,
    read_text,
)


def _model_dir(language: str) -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / language


def model_files(language: str) -> tuple[Path, Path] | None:
    """(acoustic model folder, pronouncing dictionary) of `language`, as PocketSphinx lays a
    language out in its model folder (`<language>/<language>/` and
    `<language>/cmudict-<language>.dict`, as the wheel's en-us), or None when not installed."""
    folder = _model_dir(language)
    acoustic, words = folder / language, folder / f"cmudict-{language}.dict"
    if (acoustic / "mdef").is_file() and words.is_file():
        return acoustic, words
    return None


@cache
def installed_languages() -> tuple[str, ...]:
    """The languages PocketSphinx has a model and dictionary for here (the wheel: en-us)."""
    folder = _model_dir(".")
    return tuple(
        sorted(p.name for p in folder.iterdir() if p.is_dir() and model_files(p.name) is not None)
    )


@cache
def model_words(language: str) -> frozenset[str]:
    """The words of `language`'s pronouncing dictionary (variants folded)."""
    files = model_files(language)
    if files is None:
        return frozenset()
    with open(files[1], encoding="utf-8") as lines:
        return frozenset(line.partition(" ")[0].split("(")[0] for line in lines)


def en_us_words() -> frozenset[str]:
    """The words of PocketSphinx's en-us pronouncing dictionary (variants folded)."""
    return model_words("en-us")


def unknown_words(book: PhraseBook) -> set[str]:
    """The book's words that neither its language's dictionary nor its [pronunciations] knows."""
    return book.words() - model_words(book.language) - set(book.pronunciations)


def language_problem(language: str, lines: dict[tuple[str | int, ...], int]) -> Problem | None:
    """Why a phrase book's `language` cannot be recognised here (None when it can)."""
    if model_files(language) is not None:
        return None
    return Problem(
        locate(lines, ("language",)),
        "language",
        f"{language!r}: no recognition model for it is installed (installed:"
        f" {', '.join(installed_languages()) or 'none'}); a language's PocketSphinx model goes"
        f" in {_model_dir(language)}/ (docs/speech.md)",
    )


def load_phrases(extra: Path | None) -> PhraseBook:
    """The phrase book a recogniser uses: the built-in one with the agency's file `extra`
    merged in (drills.speech.phrasebook). Raises DataFileError naming the agency file, the
    line and the field of each problem: a file that does not parse (its schema: a bad phone,
    an empty table...) is refused for that alone, since nothing else can be checked; one that
    parses is refused for every one of its phrases given to two acts, clashes with the built-in
    book, an uninstalled language and words the recogniser cannot pronounce, in one pass
    (nu21 #3: these came one stage a run)."""
    if extra is None:
        return phrasebook(None)
    text = read_text(extra)
    agency = parse_model(text, PhraseBook, extra)  # the schema: nothing else checks without it
    lines = key_lines(text)
    try:
        book: PhraseBook | None = merged(agency, text, extra)
        problems: list[Problem] = []
    except DataFileError as exc:  # phrases given to two acts: the words are checked too
        book, problems = None, list(exc.problems)
    wrong_language = language_problem(agency.language, lines)
    if wrong_language is not None:  # no dictionary to check the words against
        raise DataFileError(extra, _in_file_order([*problems, wrong_language]))
    builtin = builtin_phrasebook()
    known = model_words(agency.language) | set(builtin.pronunciations) | set(agency.pronunciations)
    builtin_phrases = builtin.phrase_acts()
    # The agency's entries in its file's order: an entry's index is its [[acts]] index.
    for index, entry in enumerate(agency.acts):
        for k, phrase in enumerate(entry.phrases):
            if phrase in builtin_phrases:
                continue
            for word in phrase.split():
                if word not in known:
                    problems.append(
                        Problem(
                            locate(lines, ("acts", index, "phrases")),
                            f"acts[{index}].phrases[{k}]",
                            f"{word!r} (in {phrase!r}) is not in the {agency.language}"
                            " dictionary: add it"
                            ' under [pronunciations] in CMU phones (e.g. tased = "T EY Z D")',
                        )
                    )
    if not problems and book is not None:
        unknown = unknown_words(book)  # not the agency's words: the built-in book's
        if unknown:
            problems = [
                Problem(None, "", f"words not in the {book.language} dictionary: {sorted(unknown)}")
            ]
    if problems or book is None:
        raise DataFileError(extra, _in_file_order(problems))
    return book


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """`problems` by line (those with none last), each check's order kept within a line."""
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))
