"""Typed, versioned TOML data files whose errors name the file, the line and the field.

Every data file of OpenRange (cartridges, loads, drills, officer scripts, policies, courses) is a
pydantic model loaded here. It lives in `physics` because physics is the lowest layer that reads
data files; the layers above import it from here rather than keep their own loader.
"""

from __future__ import annotations

import math
import re
import sys
import tomllib
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

# The largest magnitude any number in a data file may have, in its own unit (ft, m, s, m/s,
# grains...): the largest real value in the shipped files is about 1,150 (a muzzle velocity in
# ft/s), so a million is absurd in every unit, and a typo (`1e9`) is caught at the boundary.
MAX_MAGNITUDE = 1e6
# The smallest non-zero magnitude: the smallest normal double. Below it (`1e-320`, a subnormal)
# a value is a typo, never a measurement; computed values (a boresight direction's 1e-9
# component) stay far above it.
MIN_MAGNITUDE = sys.float_info.min


def _kind_error(annotation: Any, value: Any) -> str | None:
    """Why `value` (as TOML gave it) is the wrong kind for `annotation`, or None.

    Pydantic's lax mode turns `true` into 1.0, `1` into True and `"2"` into 2.0; a data file
    that says `within_ft = true` is wrong, not one foot. Numbers must also be finite and of a
    sane size."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kind_error(get_args(annotation)[0], value)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        errors = [_kind_error(a, value) for a in options]
        return None if any(e is None for e in errors) else errors[0]
    if origin in (list, tuple, set, frozenset) and isinstance(value, list):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        for i, item in enumerate(value):
            inner = args[min(i, len(args) - 1)] if args else Any
            error = _kind_error(inner, item)
            if error is not None:
                return f"item {i}: {error}"
        return None
    if origin is dict and isinstance(value, dict):
        inner = get_args(annotation)[1] if get_args(annotation) else Any
        for key, item in value.items():
            error = _kind_error(inner, item)
            if error is not None:
                return f"{key}: {error}"
        return None
    if origin is Literal:
        choices = get_args(annotation)
        if isinstance(value, bool) and not any(isinstance(a, bool) for a in choices):
            return f"one of {', '.join(map(repr, choices))} is needed, not {value}"
        whole = [a for a in choices if isinstance(a, int) and not isinstance(a, bool)]
        if isinstance(value, float) and whole:
            # `version = 1.0` is refused as `rounds = 8.0` is: an integer field takes no float
            # (pydantic's lax mode would take 1.0 for the literal 1).
            return f"a whole number is needed, not {value}"
        return None
    if annotation is float or annotation is int:
        if isinstance(value, bool):
            return f"a number is needed, not {given(value)}"
        if isinstance(value, str):
            return f"a number is needed, not {given(value)}"
        if annotation is int and isinstance(value, float):
            return f"a whole number is needed, not {value}"
        if isinstance(value, float | int):
            number = float(value)
            if not math.isfinite(number):
                return f"a finite number is needed, not {value}"
            if abs(number) > MAX_MAGNITUDE or 0.0 < abs(number) < MIN_MAGNITUDE:
                return (
                    f"{value} is out of any sane range (numbers here lie between"
                    f" {MIN_MAGNITUDE:g} and {MAX_MAGNITUDE:g} in size, or are 0)"
                )
        return None
    if annotation is bool and not isinstance(value, bool):
        if isinstance(value, int | float):
            return f"true or false is needed, not {value}"
        if isinstance(value, str):
            return f"true or false is needed, not {given(value)}"
    return None


class StrictModel(BaseModel):
    """Base of every data-file model: unknown keys are errors, values are immutable.

    Every field of every subclass is also checked for its *kind*: a number is never a boolean
    (`within_ft = true` is refused, and so is `reload = 1`), and every number is finite (no
    `inf`, no `nan`) with a magnitude between MIN_MAGNITUDE and MAX_MAGNITUDE, or zero.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _right_kind(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name
        if name is None or name not in cls.model_fields:
            return value
        field = cls.model_fields[name]
        if isinstance(value, str) and not value.strip() and _wants_words(field):
            raise ValueError(empty_text(value))
        verdict = _range_error(name, field.metadata, value)
        if verdict is _CROSS_CHECKED:
            return value
        if isinstance(verdict, str):
            raise ValueError(verdict)
        error = _kind_error(field.annotation, value)
        if error is not None:
            raise ValueError(error)
        return value


@dataclass(frozen=True, slots=True)
class Words:
    """Field metadata: the text must say something (an id, a name, a title, a line spoken):
    empty or only spaces it is refused, in the data files' words (`empty_text`), where pydantic
    would take it and a later sentence would come out broken ("completed at 3.66 s:  reached
    down", nu19 #10). Use the `Text` type."""


# Text that must say something (Words): `title: Text`, `subject: Text | None = None`.
Text = Annotated[str, Words()]


def empty_text(value: str) -> str:
    """The message for a Words field given no words."""
    return (
        "text is needed, not empty text ('')"
        if not value
        else f"text is needed, not only spaces ({value!r})"
    )


def _wants_words(field: Any) -> bool:
    """Whether a model field is `Text` (or `Text | None`)."""
    if any(isinstance(item, Words) for item in field.metadata):
        return True
    for option in get_args(field.annotation):
        if get_origin(option) is Annotated and any(
            isinstance(item, Words) for item in get_args(option)[1:]
        ):
            return True
    return False


@dataclass(frozen=True, slots=True)
class CheckedAgainst:
    """Field metadata: the field's upper limit is another field's value (a subject's distance
    and the lane's length), checked by the model's cross-check, which names the limit with its
    value. The field's own check then leaves the size of the number to that cross-check."""

    limit: str


_CROSS_CHECKED = object()


def _range_error(name: str, metadata: Sequence[Any], value: Any) -> str | object | None:
    """Why a number given to a field with its own bounds (`Field(ge=1, le=3600)`) is out of
    the sane magnitude, naming the field's allowed range (the generic sane range otherwise);
    _CROSS_CHECKED for a large number in a field whose upper limit a cross-check names
    (CheckedAgainst); None when the number is sane (pydantic then checks the bounds) or when
    the field has no bounds (the generic check of _kind_error names the sane range)."""
    if isinstance(value, bool) or not isinstance(value, float | int):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    lower: tuple[float, str] | None = None
    upper: tuple[float, str] | None = None
    checked: str | None = None
    for item in metadata:
        if isinstance(item, CheckedAgainst):
            checked = item.limit
        for attr, sign in (("ge", "<="), ("gt", "<"), ("le", "<="), ("lt", "<")):
            bound = getattr(item, attr, None)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                if attr in ("ge", "gt"):
                    lower = (float(bound), sign)
                else:
                    upper = (float(bound), sign)
    sane = abs(number) <= MAX_MAGNITUDE and not 0.0 < abs(number) < MIN_MAGNITUDE
    if sane and _within(number, lower, upper):
        return None
    if checked is not None and number > MAX_MAGNITUDE:
        return _CROSS_CHECKED
    if lower is None and upper is None:
        return None
    if not sane and 0.0 < abs(number) < MIN_MAGNITUDE and (lower is None or lower[0] <= 0.0):
        return None  # a subnormal the bounds would take: the generic message says why not
    # One wording whichever side is crossed: a field with one bound of its own is also held
    # to the sane magnitude on the other ("-0.5" and "1e300" both say "allowed 0 <= at_s <=
    # 1e+06", rc19 nit; "allowed at_s >= 0" was not all that is allowed).
    low = f"{lower[0]:g} {lower[1]} " if lower is not None else f"{-MAX_MAGNITUDE:g} <= "
    if upper is not None:
        high = f" {upper[1]} {upper[0]:g}"
    else:
        high = f" <= {checked}" if checked is not None else f" <= {MAX_MAGNITUDE:g}"
    given = repr(value) if abs(number) < MIN_MAGNITUDE else f"{number:g}"
    return f"{given} is out of range: allowed {low}{name}{high}"


def _within(
    number: float, lower: tuple[float, str] | None, upper: tuple[float, str] | None
) -> bool:
    """Whether `number` meets a field's bounds, each (value, "<=" or "<"); None: no bound."""
    if lower is not None and not (lower[0] <= number if lower[1] == "<=" else lower[0] < number):
        return False
    return upper is None or (number <= upper[0] if upper[1] == "<=" else number < upper[0])


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None
    field: str
    message: str


class FieldError(ValueError):
    """A validator's error about one place in the file (`loc`, in pydantic's convention, from
    the model being validated): raised by a cross-check in a model validator, so the file's
    line is named as for a field's own error."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        self.loc = tuple(loc)
        super().__init__(message)


class FieldsError(ValueError):
    """Several problems a validator found at once (each item of a list, each key of a table),
    each `(loc, message)` with `loc` under the field validated: the file's error says each on
    its own line, as every problem of a data file is said (docs/drills.md)."""

    def __init__(self, errors: Sequence[tuple[Sequence[str | int], str]]) -> None:
        self.errors = [(tuple(loc), message) for loc, message in errors]
        super().__init__("; ".join(message for _, message in self.errors))


class DataFileError(ValueError):
    """A data file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path | str, problems: Sequence[Problem]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        super().__init__(self._describe())

    def _describe(self) -> str:
        lines = []
        for p in self.problems:
            where = f"{self.path}:{p.line}" if p.line is not None else f"{self.path}"
            lines.append(f"{where}: {p.field}: {p.message}" if p.field else f"{where}: {p.message}")
        return "\n".join(lines)


_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(dotted: str) -> list[str]:
    return [
        part.strip().strip("\"'")
        for part in re.split(r"\.(?=(?:[^\"']|\"[^\"]*\"|'[^']*')*$)", dotted)
    ]


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each key path in a TOML document to the line (1-based) that defines it.

    Paths use pydantic's convention: table keys as strings, array-of-tables indices as ints, so an
    error at ("phases", 1, "transitions", 0, "to") finds its line. Values spread over several lines
    (inline arrays) map to the line of their key.
    """
    lines: dict[tuple[str | int, ...], int] = {}
    for path, number in _key_entries(text):
        if path and isinstance(path[-1], int):
            lines.setdefault(path[:-1], number)  # an array of tables: its first header
        lines[path] = number
    return lines


def _key_entries(text: str) -> list[tuple[tuple[str | int, ...], int]]:
    """Each key and table header of a TOML document, in order, as (path, line): a key given
    twice appears twice (`key_lines` keeps the last; a duplicate's message names both)."""
    entries: list[tuple[tuple[str | int, ...], int]] = []
    array_counts: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    depth = 0  # open brackets of a multi-line value; keys inside it are not top-level keys
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if '"' not in raw and "'" not in raw else raw
        if depth == 0:
            header = _HEADER.match(raw)
            if header:
                resolved: tuple[str | int, ...] = ()
                for part in _split_key(header.group(2)):
                    resolved = (*resolved, part)
                    if resolved in array_counts and part != _split_key(header.group(2))[-1]:
                        resolved = (*resolved, array_counts[resolved] - 1)
                if header.group(1) == "[[":
                    index = array_counts.get(resolved, 0)
                    array_counts[resolved] = index + 1
                    resolved = (*resolved, index)
                table = resolved
                entries.append((table, number))
                continue
            key = _KEY.match(line)
            if key:
                entries.append(((*table, *_split_key(key.group(1))), number))
        depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
        depth = max(depth, 0)
    return entries


def _given_twice(text: str, line: int) -> Problem | None:
    """tomllib's "Cannot overwrite a value" (or "Cannot declare ('scene',) twice") at `line`,
    in the data files' words: the key, where it was first given (nu19 #10: the parser's
    message names neither)."""
    entries = _key_entries(text)
    for path, number in reversed(entries):
        if number != line:
            continue
        first = next((n for p, n in entries if p == path and n < line), None)
        if first is not None:
            return Problem(
                line,
                field_name(path),
                f"not valid TOML: given twice (first at line {first}); a key is set once",
            )
    return None


def json_key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each key path in a JSON document to the line (1-based) that holds the key (an
    array's item: the line it opens on), in pydantic's convention as `key_lines` does."""
    lines: dict[tuple[str | int, ...], int] = {}
    # Each open container: [its key in the parent path (an object's last key, an array's
    # index), whether an object's next string is a key].
    stack: list[list[Any]] = []
    kinds: list[str] = []
    line, i = 1, 0

    def path() -> tuple[str | int, ...]:
        return tuple(key for key, _ in stack if key is not None)

    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
        elif c == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if kinds and kinds[-1] == "object" and stack[-1][1]:
                stack[-1][0], stack[-1][1] = text[i + 1 : j], False
                lines[path()] = line
            line += text.count("\n", i, j)
            i = j
        elif c in "{[":
            if kinds and kinds[-1] == "array":
                lines.setdefault(path(), line)
            kinds.append("object" if c == "{" else "array")
            stack.append([None, True] if c == "{" else [0, False])
        elif c in "}]" and stack:
            kinds.pop()
            stack.pop()
        elif c == "," and stack:
            if kinds[-1] == "array":
                stack[-1][0] += 1
            else:
                stack[-1][1] = True
        i += 1
    return lines


def locate(lines: dict[tuple[str | int, ...], int], loc: Sequence[str | int]) -> int | None:
    """The line of the longest known prefix of `loc`, or None for the document as a whole."""
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def field_name(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# Patterns a data file's fields must match, each with the words docs/ describe it in: an error
# says those words (and the value given), never the regular expression.
VERSIONED_ID = r"^[a-z0-9]+(-[a-z0-9]+)*-v[0-9]+$"  # drills and courses (docs/drills.md)
SNAKE_ID = r"^[a-z0-9]+(_[a-z0-9]+)*$"  # a debrief question's id
RULE_ID = r"^[A-Z]+-[0-9]{2}$"  # a policy rule (docs/scoring.md)
PATTERN_WORDS = {
    VERSIONED_ID: "lowercase words joined by '-', ending in -v<number> (knife-approach-v1)",
    SNAKE_ID: "lowercase words joined by '_' (what_scared)",
    RULE_ID: "capital letters, '-' and two digits (HOLD-01)",
}


# Pydantic's words for a value of the wrong kind ("Input should be a valid list"), in the words
# the data files use (`_kind_error`: "a number is needed, not true"); the value given follows.
KIND_WORDS = {
    "string_type": "text is needed",
    "bool_type": "true or false is needed",
    "bool_parsing": "true or false is needed",
    "float_type": "a number is needed",
    "float_parsing": "a number is needed",
    "int_type": "a whole number is needed",
    "int_parsing": "a whole number is needed",
    "int_from_float": "a whole number is needed",
    "finite_number": "a finite number is needed",
    "list_type": "a list is needed",
    "tuple_type": "a list is needed",
    "dict_type": "a table is needed",
    "model_type": "a table is needed",
    "model_attributes_type": "a table is needed",
}
# A bound pydantic checked ("Input should be less than or equal to 1"), as `_range_error` says
# one: the comparison the value must meet.
BOUND_WORDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}


# A text or a list shorter or longer than its field allows ("String should have at least 1
# character", "List should have at least 1 item after validation, not 0"), as `_length_message`
# says it.
LENGTH_WORDS = ("string_too_short", "string_too_long", "too_short", "too_long")


def _length_message(kind: str, error: Any) -> str:
    ctx = error["ctx"]
    value = error.get("input")
    if kind == "string_too_short":
        if isinstance(value, str) and not value.strip():
            return empty_text(value)
        least = ctx.get("min_length")
        return f"{given(value)} is too short: allowed at least {least} character(s)"
    if kind == "string_too_long":
        most = ctx.get("max_length")
        size = len(value) if isinstance(value, str) else "more"
        return f"a text of {size} characters is too long: allowed at most {most}"
    size = ctx.get("actual_length")
    if size is None and isinstance(value, list | tuple | dict):
        size = len(value)
    if kind == "too_short":
        least = ctx.get("min_length")
        if size == 0:
            return f"an empty list is not allowed: give at least {least} item(s)"
        return f"a list of {size} item(s) is too short: allowed at least {least}"
    most = ctx.get("max_length")
    return f"a list of {size} item(s) is too long: allowed at most {most}"


def given(value: Any) -> str:
    """A value as the data file's message names it: text quoted, a number or true/false bare,
    a list or table by its kind."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def newer_format(version: int, known: int, kind: str = "") -> str:
    """What a file whose `version` is newer than this OpenRange reads is told (nu24 #13): the
    one message for drills, officer scripts, courses, shooters, policies and phrase books.
    `kind` names the format where the file's kind is not plain ("phrase-book")."""
    what = f"{kind} format" if kind else "format"
    return (
        f"{version}: this file is from a newer OpenRange: this OpenRange reads {what} {known}"
        f" only (update OpenRange, or ask for a format-{known} copy)"
    )


def _newer_version(error: Any) -> str | None:
    """`newer_format` for a `version` field's literal error whose value is a whole number
    above every version the model reads; None for any other error."""
    loc = error.get("loc", ())
    value = error.get("input")
    if not loc or loc[-1] != "version" or isinstance(value, bool) or not isinstance(value, int):
        return None
    known = [int(v) for v in re.findall(r"\d+", str(error.get("ctx", {}).get("expected", "")))]
    if not known or value <= max(known):
        return None
    return newer_format(value, max(known))


def error_message(error: Any) -> str:
    """A pydantic error's message as a user reads it: without the "Value error, " (or
    "Assertion failed, ") that pydantic puts before a validator's own words; a value that does
    not match a known pattern is said in the documented words (PATTERN_WORDS); a value of the
    wrong kind or past a bound in the data files' words (KIND_WORDS, BOUND_WORDS), never
    pydantic's "Input should be ..." (nu17c #13)."""
    kind = error.get("type")
    if kind == "string_pattern_mismatch":
        words = PATTERN_WORDS.get(str(error.get("ctx", {}).get("pattern")))
        if words is not None:
            return f"{error.get('input')!r} is not {words}"
    if kind in KIND_WORDS:
        return f"{KIND_WORDS[kind]}, not {given(error.get('input'))}"
    if kind == "literal_error" and (newer := _newer_version(error)) is not None:
        return newer
    if kind in ("enum", "literal_error") and "ctx" in error:  # "'walk', 'run' or 'hold'"
        expected = str(error["ctx"]["expected"])
        choice = f"one of {expected}" if " or " in expected else expected
        return f"{choice} is needed, not {given(error.get('input'))}"
    if kind in LENGTH_WORDS and "ctx" in error:  # "String should have at least 1 character"
        return _length_message(kind, error)
    if kind in BOUND_WORDS and "ctx" in error:
        key, sign = BOUND_WORDS[kind]
        names = [part for part in error.get("loc", ()) if isinstance(part, str)]
        name = names[-1] if names else "the value"
        bound = error["ctx"].get(key)
        limit = f"{bound:g}" if isinstance(bound, float) else str(bound)
        return f"{given(error.get('input'))} is out of range: allowed {name} {sign} {limit}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def parse_model(
    text: str,
    model: type[M],
    path: Path | str,
    check: Callable[[M, str, Path | str], None] | None = None,
    data: dict[str, Any] | None = None,
) -> M:
    """Validate TOML `text` (read from `path`) as `model`, or raise DataFileError. `check`
    looks for what a schema cannot see (a phase graph's dangling links, a string beyond its
    cartridge's reach) and raises DataFileError itself. `data`: `text`'s table where the
    caller parsed it already (not parsed again)."""
    # A UTF-8 byte-order mark (some Windows editors write one) is not part of the data.
    text = text.removeprefix("\ufeff")
    try:
        if data is None:
            data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = _TOML_AT.search(str(exc))
        line = int(at.group(1)) if at else None
        if at is None and "(at end of document)" in str(exc):
            # An array or a string left open: the parser gave up at the file's last line.
            line = max(len(text.splitlines()), 1)
        message = _TOML_AT.sub("", str(exc)).replace("(at end of document)", "").strip()
        twice = message == "Cannot overwrite a value" or (
            message.startswith("Cannot declare ") and message.endswith(" twice")
        )
        if twice and line is not None:
            problem = _given_twice(text, line)
            if problem is not None:
                raise DataFileError(path, [problem]) from None
        if at is None and line is not None:
            message += " (at the end of the file)"
        raise DataFileError(path, [Problem(line, "", f"not valid TOML: {message}")]) from None
    except RecursionError:
        # tomllib parses nested arrays and tables recursively: a hostile file nested thousands
        # deep exhausts the stack. No data file nests more than a few levels.
        raise DataFileError(
            path, [Problem(None, "", "nested too deeply to be a data file")]
        ) from None
    try:
        parsed = model.model_validate(data)
    except RecursionError:
        raise DataFileError(
            path, [Problem(None, "", "nested too deeply to be a data file")]
        ) from None
    except ValidationError as exc:
        lines = key_lines(text)
        problems = []
        for error in exc.errors():
            loc = [part for part in error["loc"] if isinstance(part, int | str)]
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, FieldsError):
                for under, said in cause.errors:
                    place = [*loc, *under]
                    problems.append(Problem(locate(lines, place) or 1, field_name(place), said))
                continue
            if isinstance(cause, FieldError):
                loc += cause.loc
            message = error_message(error)
            if error["type"] == "extra_forbidden":
                message = "unknown key (check the spelling against the documentation)"
            elif error["type"] == "missing":
                message = "required key is missing"
            # A key missing from the document itself (an empty file) is named at line 1: every
            # error of a data file names a line.
            problems.append(Problem(locate(lines, loc) or 1, field_name(loc), message))
        raise DataFileError(path, problems) from None
    if check is not None:
        check(parsed, text, path)
    return parsed


# What a data file's path naming a directory is told, everywhere (read_text's DataFileError and
# the lookups' NotFoundError alike: nu21 #4).
NOT_A_FILE = "a directory, not a data file: give one file"


# A data file (drill, course, policy, phrase book, lane, script, profile) is a few KiB: past
# this, a file is no data file, and is not read whole (a link to /dev/zero would fill memory).
MAX_DATA_FILE_BYTES = 4 * 1024 * 1024


def read_text(path: Path, max_bytes: int = MAX_DATA_FILE_BYTES, what: str = "a data file") -> str:
    """A data file's text: `read_bytes`, then UTF-8 (a byte that is not is a DataFileError
    naming the file, the line and the column)."""
    return decode(read_bytes(path, max_bytes, what), path)


def read_bytes(
    path: Path, max_bytes: int = MAX_DATA_FILE_BYTES, what: str = "a data file"
) -> bytes:
    """A data file's bytes. A directory is a DataFileError (status 2, as any file refused: not
    the OSError, which the CLI reads as an I/O failure, nu21 #4); so is anything else that is
    not a regular file (a FIFO would block for ever, a device never end: rc20 #4, rc21 #4) and a
    file over `max_bytes` (`what` names the kind in those words); a missing or unreadable file
    is the OSError itself (it names the path)."""
    import stat

    mode = path.stat().st_mode  # follows a link: what a read would open
    if stat.S_ISDIR(mode):
        raise DataFileError(path, [Problem(None, "", NOT_A_FILE)])
    if not stat.S_ISREG(mode):
        kinds = {
            stat.S_ISFIFO: "a FIFO (named pipe)",
            stat.S_ISCHR: "a character device",
            stat.S_ISBLK: "a block device",
            stat.S_ISSOCK: "a socket",
        }
        kind = next((k for test, k in kinds.items() if test(mode)), "special")
        why = f"not a regular file ({kind}): {what} is a TOML file"
        raise DataFileError(path, [Problem(None, "", why)])
    with path.open("rb") as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        size = path.stat().st_size
        why = f"too large ({size} bytes; at most {max_bytes // 1024} KiB are read): not {what}"
        raise DataFileError(path, [Problem(None, "", why)])
    return raw


def decode(raw: bytes, path: Path | str) -> str:
    """`raw` as UTF-8 text, or a DataFileError naming `path`, the line and the column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise DataFileError(
            path,
            [Problem(line, "", f"not UTF-8 text: byte 0x{byte} at column {column}")],
        ) from None


def load_model(path: Path, model: type[M], data: dict[str, Any] | None = None) -> M:
    """The data file `path` validated as `model` (`parse_model`); `data`: its table where the
    caller parsed it already (not parsed again)."""
    return parse_model(read_text(path), model, path, data=data)


class NotFoundError(KeyError):
    """A name that is neither built in nor a data file (a drill id, a load, a cartridge); the
    message lists the known names. A KeyError, so `except KeyError` callers keep working, with
    the message as its text (a bare KeyError would print the name in quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def builtin_or_file(name: str, builtin: Mapping[str, M], load: Callable[[Path], M], what: str) -> M:
    """A built-in data file by its id, or a data file by its path: the one lookup rule of every
    `--drill`, `--officer`, `--course` style option."""
    if name in builtin:
        return builtin[name]
    path = Path(name)
    if path.is_dir():
        raise NotFoundError(f"{path}: {NOT_A_FILE}")
    if path.suffix == ".toml":
        return load(path)  # a missing file is the OSError that names it
    raise NotFoundError(f"no {what} {name!r}; built-in: {', '.join(sorted(builtin))}")
