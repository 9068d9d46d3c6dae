"""Files the user names (`--out`, `--plot`, a run's `sound.wav`): whole or absent, and a failed
write (a full disk, a quota, a read-only folder) is one OSError naming the file.

Each is written to a temporary file beside it (same folder, so the rename is atomic, and the
same suffix, so a writer that picks its format from the name still does) and renamed into
place only once complete: a full disk never leaves a 0-byte or half-written file, and a file
that was there before is left as it was.

Every such write first passes `check` (nu23 #1), one check for every command that writes a
path the user names (`report --out`, `replay --png`'s frames and `--screenshot`, `records
export --out`, `calibrate certificate --out`, `analyze spread --plot`, the review video...):
it refuses, in one line, a target that is not a regular file (a device, a FIFO, a socket:
renaming over one would replace the node, e.g. /dev/full, with a file) and, in a run's own
folder (one holding events.jsonl), any of the run's files: only a report (`*.html`) or a new
file may be written there, so `report --out RUN/events.jsonl` can never replace the log.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# The files a run's folder holds (range/runs/runlog.py, range/runs/saved.py, range/runs/voice.py,
# range/cli/sound.py, drills/speech.py, range/console/lane.py): never a write target, even absent.
RUN_FILES = frozenset(
    {
        "events.jsonl",
        "result.json",
        "drill.toml",
        "drill.json",
        "course.toml",
        "course.json",
        "resumed.json",
        "sound.wav",
        "officer-voice.wav",
        "phrasebook.toml",
        "policy.toml",
        "incomplete.json",
        "aborted.json",
        ".lane.json",
        ".speech-corrections.lock",
    }
)
# The instructor's speech corrections (scoring/corrections.py `corrections_path`).
RUN_FILE_PATTERN = re.compile(r"speech-corrections-[0-9a-f]+\.json")
REPORT_SUFFIXES = (".html",)  # what may replace a file in a run's folder: a report


class RefusedTargetError(OSError):
    """A write target `check` refuses: one line naming it (main: `PATH: why`)."""


class UnwrittenError(OSError):
    """A file that could not be written (a full disk, a folder that is not there, a directory
    in its place): one kind whatever the errno, so the command exits 9, "a file that cannot be
    written", for each (README, "Exit statuses": a missing folder was exit 2, as a missing
    input file, and a directory 9: nu25 #10)."""


def check(path: Path) -> None:
    """Refuse (RefusedTargetError, naming `path`) a target that is not a regular file (a device,
    a FIFO: a directory is left to the write, which says "Is a directory"), or that is one of a
    run's own files: in a folder holding events.jsonl, any file named as a run's (RUN_FILES)
    and any existing file that is not a report (REPORT_SUFFIXES). A link is judged by what it
    points at."""
    path = Path(path)
    real = path.resolve()
    try:
        mode = real.stat().st_mode
    except OSError:
        mode = None  # absent (or unreadable): the write itself says why it fails
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise RefusedTargetError(
            errno.EPERM,
            "not a regular file (a device, a FIFO or a socket): refused, not replaced"
            " (left as it was)",
            str(path),
        )
    if not (real.parent / "events.jsonl").is_file():
        return
    if real.name in RUN_FILES or RUN_FILE_PATTERN.fullmatch(real.name) is not None:
        raise RefusedTargetError(
            errno.EPERM,
            "one of the run's own files (its folder holds events.jsonl): refused, name"
            f" another file ({'left as it was' if mode is not None else 'not written'})",
            str(path),
        )
    if mode is not None and stat.S_ISREG(mode) and real.suffix not in REPORT_SUFFIXES:
        # Perhaps the user's own earlier export (rc21 #7a): said as the rule it breaks.
        raise RefusedTargetError(
            errno.EPERM,
            "a file already in a run's folder (it holds events.jsonl): only a report"
            f" ({', '.join('*' + s for s in REPORT_SUFFIXES)}) may be replaced there; refused,"
            " name a new file (left as it was)",
            str(path),
        )


def check_folder(path: Path) -> None:
    """Refuse (RefusedTargetError, naming `path`) a folder of files to write (`replay --png
    DIR`'s frames) that is a run's own folder (one holding events.jsonl): a second replay there
    would remove and replace files in it that are not reports, which `check` refuses for a
    file named there (rc21 #7b)."""
    if (Path(path).resolve() / "events.jsonl").is_file():
        raise RefusedTargetError(
            errno.EPERM,
            "a run's own folder (it holds events.jsonl): only a report (*.html) may be"
            " replaced there; refused, name a folder of its own for the frames",
            str(path),
        )


@contextmanager
def replacing(path: Path, *, run_file: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write `path`'s content to; on success it is synced and
    renamed over `path`; on any failure it is removed, and an OSError is raised again with
    `path` as its filename (main prints `PATH: No space left on device`). `run_file`: the
    run itself writes one of its own files (its sound.wav), not a path the user named: no
    `check`."""
    path = Path(path)
    if not run_file:
        check(path)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink()
        kept = "left as it was" if path.exists() else "not written"
        raise UnwrittenError(exc.errno, f"{exc.strerror or exc} ({kept})", str(path)) from exc
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(path: Path, data: bytes, *, run_file: bool = False) -> None:
    """`path` holds `data`, whole, or is left as it was (OSError naming it)."""
    with replacing(path, run_file=run_file) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    """`path` holds `text` (UTF-8), whole, or is left as it was (OSError naming it)."""
    write_bytes(path, text.encode("utf-8"))
