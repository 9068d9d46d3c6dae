"""Typed, versioned TOML data files whose errors name the file, the line and the field.

Every data file of OpenRange (cartridges, loads, drills, officer scripts, policies, courses) is a
pydantic model loaded here. It lives in `physics` because physics is the lowest layer that reads
data files; the layers above import it from here rather than keep their own loader.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Base of every data-file model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None
    field: str
    message: str


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
                    lines.setdefault(resolved, number)
                    resolved = (*resolved, index)
                table = resolved
                lines[table] = number
                continue
            key = _KEY.match(line)
            if key:
                lines[(*table, *_split_key(key.group(1)))] = number
        depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
        depth = max(depth, 0)
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


def parse_model(
    text: str,
    model: type[M],
    path: Path | str,
    check: Callable[[M, str, Path | str], None] | None = None,
) -> M:
    """Validate TOML `text` (read from `path`) as `model`, or raise DataFileError. `check`
    looks for what a schema cannot see (a phase graph's dangling links, a string beyond its
    cartridge's reach) and raises DataFileError itself."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = _TOML_AT.search(str(exc))
        message = _TOML_AT.sub("", str(exc)).strip()
        raise DataFileError(
            path, [Problem(int(at.group(1)) if at else None, "", f"not valid TOML: {message}")]
        ) from None
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        lines = key_lines(text)
        problems = []
        for error in exc.errors():
            loc = [part for part in error["loc"] if isinstance(part, int | str)]
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key (check the spelling against the documentation)"
            elif error["type"] == "missing":
                message = "required key is missing"
            problems.append(Problem(locate(lines, loc), field_name(loc), message))
        raise DataFileError(path, problems) from None
    if check is not None:
        check(parsed, text, path)
    return parsed


def load_model(path: Path, model: type[M]) -> M:
    return parse_model(path.read_text(encoding="utf-8"), model, path)


def builtin_or_file(name: str, builtin: Mapping[str, M], load: Callable[[Path], M], what: str) -> M:
    """A built-in data file by its id, or a data file by its path: the one lookup rule of every
    `--drill`, `--officer`, `--course` style option."""
    if name in builtin:
        return builtin[name]
    path = Path(name)
    if path.suffix == ".toml" and path.exists():
        return load(path)
    raise KeyError(f"no {what} {name!r}; built-in: {', '.join(sorted(builtin))}")


def read_packaged(package: str, relative: str, model: type[M]) -> M:
    """A data file shipped inside a package (`files(package) / relative`), validated."""
    from importlib.resources import files

    resource = files(package) / relative
    return parse_model(resource.read_text(encoding="utf-8"), model, str(resource))
