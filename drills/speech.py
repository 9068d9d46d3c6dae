"""Speech acts: what the officer's words do, and the phrase book that maps words to acts.

Drills branch on acts, never on raw text, so an agency's own wording (or another language) changes
no drill: a transition `on = "speech:command.drop_weapon"` fires for "drop the knife" and "put it
down" alike. An act is `category` or `category.name`; the categories are fixed here, the names
within them are the phrase book's (docs/speech.md).

Recognition itself (microphone, voice activity, PocketSphinx) is I/O and lives in range/voice/;
this module is pure data and text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import Field, field_validator

from drills.log import LogRecord
from physics.datafiles import (
    DataFileError,
    FieldsError,
    Problem,
    StrictModel,
    key_lines,
    load_model,
    locate,
    newer_format,
    parse_model,
    read_text,
)

PHRASEBOOK_FORMAT = 1
# An agency phrase book (`drill run --phrases`) as kept in a run folder.
PHRASES_FILE = "phrasebook.toml"
CATEGORIES = ("identify", "command", "warning", "question", "rapport")
ACT = r"^(identify|command|warning|question|rapport)(\.[a-z][a-z0-9_]*)?$"
SPEECH_PREFIX = "speech:"
# Lower-case words with inner apostrophes ("don't"), one space between words.
PHRASE = r"^[a-z]+('[a-z]+)?( [a-z]+('[a-z]+)?)*$"
# CMU phones, stress-free, as PocketSphinx's en-us model uses.
PHONES = r"^[A-Z]{1,2}( [A-Z]{1,2})*$"
# The en-us acoustic model's phone set (CMU, stress-free): a pronunciation may use these only
# (the recogniser's garbage loop has one word per phone: range/voice/recognize.py).
CMU_PHONES = [
    "AA",
    "AE",
    "AH",
    "AO",
    "AW",
    "AY",
    "B",
    "CH",
    "D",
    "DH",
    "EH",
    "ER",
    "EY",
    "F",
    "G",
    "HH",
    "IH",
    "IY",
    "JH",
    "K",
    "L",
    "M",
    "N",
    "NG",
    "OW",
    "OY",
    "P",
    "R",
    "S",
    "SH",
    "T",
    "TH",
    "UH",
    "UW",
    "V",
    "W",
    "Y",
    "Z",
    "ZH",
]


class ActEntry(StrictModel):
    """One speech act and every phrase that performs it."""

    act: str
    description: str = ""
    phrases: list[str]

    @field_validator("act")
    @classmethod
    def _act(cls, act: str) -> str:
        if not re.match(ACT, act):
            raise ValueError(
                f"{act!r}: an act is a category ({', '.join(CATEGORIES)}), optionally followed"
                " by a dot and a lower-case name (command.drop_weapon, rapport.help)"
            )
        return act

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, phrases: list[str]) -> list[str]:
        if not phrases:
            raise ValueError("no phrases: give at least one phrase that performs this act")
        bad = [
            ((i,), f"{phrase!r}: a phrase is lower-case words separated by single spaces")
            for i, phrase in enumerate(phrases)
            if not re.match(PHRASE, phrase)
        ]
        if bad:
            raise FieldsError(bad)  # every bad phrase, one line each
        return phrases


class PhraseBook(StrictModel):
    """A phrase-book file (docs/speech.md). `version` is the file format, 1."""

    version: int
    language: str
    pronunciations: dict[str, str] = Field(default_factory=dict)
    acts: list[ActEntry]

    @field_validator("version")
    @classmethod
    def _version(cls, version: int) -> int:
        if version != PHRASEBOOK_FORMAT:
            if version > PHRASEBOOK_FORMAT:  # the same words as every data file (nu24 #13)
                raise ValueError(newer_format(version, PHRASEBOOK_FORMAT, "phrase-book"))
            raise ValueError(
                f"{version}: this OpenRange reads phrase-book format {PHRASEBOOK_FORMAT} only"
            )
        return version

    @field_validator("language")
    @classmethod
    def _language(cls, language: str) -> str:
        if not re.match(r"^[a-z]{2}(-[a-z]{2})?$", language):
            raise ValueError(f"{language!r}: a language is a lower-case code, e.g. en or en-us")
        return language

    @field_validator("acts")
    @classmethod
    def _acts(cls, acts: list[ActEntry]) -> list[ActEntry]:
        if not acts:
            raise ValueError("no acts: give at least one [[acts]] table")
        return acts

    @field_validator("pronunciations")
    @classmethod
    def _phones(cls, pronunciations: dict[str, str]) -> dict[str, str]:
        bad: list[tuple[tuple[str], str]] = []  # every word's problem, one line each
        for word, phones in pronunciations.items():
            stressed = re.findall(r"\b([A-Z]{1,2})([0-2])\b", phones)
            unknown = [phone for phone in phones.split() if phone not in CMU_PHONES]
            if not re.match(PHRASE, word) or " " in word:
                bad.append(((word,), f"{word!r}: a pronounced word is one lower-case word"))
            elif stressed:
                bare, digit = stressed[0]
                bad.append(
                    (
                        (word,),
                        f"{word!r}: stress digits are not used: write {bare} not {bare}{digit}"
                        " (the en-us model's phones are stress-free)",
                    )
                )
            elif digits := [phone for phone in phones.split() if phone.isdigit()]:
                # A stress digit on its own ("G L AO R P 1"): the rule broken is the stress
                # digit's, not the phones' case (nu24 #12).
                bad.append(
                    (
                        (word,),
                        f"{word!r}: stress digits are not used: drop {digits[0]!r} (the en-us"
                        " model's phones are stress-free)",
                    )
                )
            elif not re.match(PHONES, phones):
                phones_are = "phones are upper-case CMU phones, e.g. 'T EY Z D'"
                bad.append(((word,), f"{word!r}: {phones_are}"))
            elif unknown:
                bad.append(
                    (
                        (word,),
                        f"not a phone of the en-us model: {', '.join(map(repr, unknown))};"
                        f" its phones: {' '.join(CMU_PHONES)}",
                    )
                )
        if bad:
            raise FieldsError(bad)
        return pronunciations

    def phrase_acts(self) -> dict[str, str]:
        """Every phrase -> its act."""
        return {phrase: entry.act for entry in self.acts for phrase in entry.phrases}

    def act_names(self) -> list[str]:
        return [entry.act for entry in self.acts]

    def words(self) -> set[str]:
        return {word for phrase in self.phrase_acts() for word in phrase.split()}


def _check(book: PhraseBook, text: str, path: Path | str) -> None:
    problems = _duplicates(book, key_lines(text))
    if problems:
        raise DataFileError(path, problems)


def _duplicates(book: PhraseBook, lines: dict[tuple[str | int, ...], int]) -> list[Problem]:
    """A problem for each phrase the book gives to a second act."""
    seen: dict[str, str] = {}
    problems: list[Problem] = []
    for index, entry in enumerate(book.acts):
        for k, phrase in enumerate(entry.phrases):
            if phrase in seen and seen[phrase] != entry.act:
                problems.append(
                    Problem(
                        locate(lines, ("acts", index, "phrases")),
                        f"acts[{index}].phrases[{k}]",
                        f"{phrase!r} is already {seen[phrase]!r}; a phrase performs one act",
                    )
                )
            seen[phrase] = entry.act
    return problems


def parse_phrasebook(text: str, path: Path | str) -> PhraseBook:
    return parse_model(text, PhraseBook, path, _check)


def load_phrasebook(path: Path) -> PhraseBook:
    """An agency's phrase-book file; raises DataFileError (file:line: field: message)."""
    return parse_phrasebook(read_text(path), path)


@cache
def builtin_phrasebook() -> PhraseBook:
    """The shipped en-us phrase book (drills/data/speech/phrasebook-en-us.toml)."""
    # Found beside this module, never through the import path (a `drills/` folder in the
    # current directory would shadow the package under `python -m`).
    book = load_model(
        Path(__file__).resolve().parent / "data" / "speech" / "phrasebook-en-us.toml", PhraseBook
    )
    _check(book, "", "drills/data/speech/phrasebook-en-us.toml")
    return book


def phrasebook(extra: Path | None = None) -> PhraseBook:
    """The built-in book, with an agency's file merged in when given.

    The agency file's acts add phrases to acts of the same name (or add new acts); its language
    replaces the built-in one, its pronunciations are added. A phrase the agency gives to a
    different act than the built-in book is an error naming the agency file.
    """
    base = builtin_phrasebook()
    if extra is None:
        return base
    text = read_text(extra)  # a byte that is not UTF-8: file, line and column
    # The file's schema first (a book that does not parse cannot be checked further).
    return merged(parse_model(text, PhraseBook, extra), text, extra)


# The most phrases an agency's book may hold (a design value, from a measurement; docs/speech.md
# "Book size"). Every phrase is a path of the recogniser's grammar competing with every other:
# on the shared 2-core machine, 100 extra three-word phrases made each utterance's decision
# 0.5-2.9 s late (0.1-0.2 s with the built-in book's 51) and 300 lost the built-in "put the
# knife down" (nu24 #15: 3,000 ran 6x slower than real time and heard worse).
MAX_AGENCY_PHRASES = 150


def _too_many(agency: PhraseBook, lines: dict[tuple[str | int, ...], int]) -> list[Problem]:
    """The phrase past MAX_AGENCY_PHRASES, named by its line and index, with why."""
    count = sum(len(entry.phrases) for entry in agency.acts)
    if count <= MAX_AGENCY_PHRASES:
        return []
    seen = 0
    for index, entry in enumerate(agency.acts):
        if seen + len(entry.phrases) > MAX_AGENCY_PHRASES:
            k = MAX_AGENCY_PHRASES - seen
            return [
                Problem(
                    locate(lines, ("acts", index, "phrases")),
                    f"acts[{index}].phrases[{k}]",
                    f"{count} phrases: an agency phrase book holds at most"
                    f" {MAX_AGENCY_PHRASES} (this is phrase {MAX_AGENCY_PHRASES + 1}): each"
                    " phrase slows recognition and makes it miss more, past real time for a"
                    " live run (docs/speech.md, Book size)",
                )
            ]
        seen += len(entry.phrases)
    return []


def merged(agency: PhraseBook, text: str, extra: Path) -> PhraseBook:
    """`phrasebook(extra)` for the agency book `agency` already parsed from `text`, the text
    of its file `extra` (the recogniser's load_phrases has parsed it: rv21b #7). Its own
    duplicates and its clashes with the built-in book are refused, all in one pass (nu21 #3)."""
    base = builtin_phrasebook()
    known = base.phrase_acts()
    lines = key_lines(text)
    problems = (
        _too_many(agency, lines)
        + _duplicates(agency, lines)
        + [
            Problem(
                locate(lines, ("acts", index, "phrases")),
                f"acts[{index}].phrases[{k}]",  # which phrase, as the schema's errors say it
                f"{phrase!r} is {known[phrase]!r} in the built-in phrase book",
            )
            for index, entry in enumerate(agency.acts)
            for k, phrase in enumerate(entry.phrases)
            if known.get(phrase, entry.act) != entry.act
        ]
    )
    if problems:
        raise DataFileError(extra, problems)
    acts: dict[str, ActEntry] = {entry.act: entry for entry in base.acts}
    for entry in agency.acts:
        old = acts.get(entry.act)
        phrases = [*(old.phrases if old else []), *entry.phrases]
        acts[entry.act] = ActEntry(
            act=entry.act,
            description=entry.description or (old.description if old else ""),
            phrases=list(dict.fromkeys(phrases)),
        )
    return PhraseBook(
        version=PHRASEBOOK_FORMAT,
        language=agency.language,
        pronunciations={**base.pronunciations, **agency.pronunciations},
        acts=list(acts.values()),
    )


def speech_trigger(act: str) -> str:
    """The drill-transition name of an act: `command.stop` -> `speech:command.stop`."""
    if not re.match(ACT, act):
        raise ValueError(f"{act!r} is not a speech act (category[.name], docs/speech.md)")
    return SPEECH_PREFIX + act


def parse_speech_trigger(on: str) -> str | None:
    """The act named by a transition's `on`, or None when `on` is not a speech trigger.

    Raises ValueError for `speech:` followed by something that is not an act."""
    if not on.startswith(SPEECH_PREFIX):
        return None
    act = on[len(SPEECH_PREFIX) :]
    speech_trigger(act)
    return act


def act_matches(trigger_act: str, heard_act: str) -> bool:
    """A trigger on a category (`speech:command`) fires for every act in it."""
    return heard_act == trigger_act or heard_act.startswith(trigger_act + ".")


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    phrase: str
    act: str
    first_word: int  # index into the text's words


def acts_in_text(text: str, book: PhraseBook) -> list[PhraseMatch]:
    """The phrases found in `text`, left to right, longest first at each word.

    `text` is what the recogniser heard ("police drop the knife"); punctuation and case are
    ignored."""
    words = re.sub(r"[^a-z' ]", " ", text.lower()).split()
    by_phrase = book.phrase_acts()
    longest = max((len(p.split()) for p in by_phrase), default=0)
    found: list[PhraseMatch] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            candidate = " ".join(words[i : i + n])
            if candidate in by_phrase:
                found.append(PhraseMatch(candidate, by_phrase[candidate], i))
                i += n
                break
        else:
            i += 1
    return found


OFFICER_SPOKE = "officer_spoke"


def span_text(start_s: float, end_s: float) -> str:
    """When words were said, as every listing gives it: their span (`1.38-2.13 s`), or one time
    where the span has no length at two places (a scripted officer's line is logged with its
    start as its end: `1.00 s`, not `1.00-1.00 s`, nu22 #9)."""
    start, end = f"{start_s:.2f}", f"{end_s:.2f}"
    return f"{start} s" if start == end else f"{start}-{end} s"


def officer_spoke(
    t: float,
    *,
    text: str,
    act: str,
    confidence: float,
    start_s: float,
    end_s: float,
    clip: str | None,
    loudness_dbfs: float | None = None,
    n: int | None = None,
    phrase: str | None = None,
) -> LogRecord:
    """The `officer_spoke` event-log record (docs/speech.md, docs/drills.md "Event log").

    t: run time of the event (s), when recognition finished; text: the words recognised; act:
    the speech act (`command.drop_weapon`); confidence: 0..1; start_s, end_s: run times the
    speech began and ended; clip: the kept audio, a path relative to the run directory, or None;
    loudness_dbfs: the words' RMS level (dBFS, <= 0) where it was measured (a shout is told by
    it), else None and left out of the record; n: the record's number among the run's
    officer_spoke records (1, 2, ...), left out where None; phrase: the phrase-book phrase that
    made the act ("stop right there" of "get down step back stop right there"), left out where
    None.
    Raises ValueError for an unknown act shape, a confidence outside 0..1 or end before start.
    """
    speech_trigger(act)
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence {confidence} is outside 0..1")
    if end_s < start_s:
        raise ValueError(f"speech ends ({end_s} s) before it starts ({start_s} s)")
    data: dict[str, object] = {
        "text": text,
        "act": act,
        "confidence": round(confidence, 3),
        "start_s": round(start_s, 3),
        "end_s": round(end_s, 3),
        "clip": clip,
    }
    if loudness_dbfs is not None:
        data["loudness_dbfs"] = round(min(loudness_dbfs, 0.0), 2)
    if n is not None:
        data["n"] = n
    if phrase is not None:
        data["phrase"] = phrase
    return LogRecord(t, OFFICER_SPOKE, data)
