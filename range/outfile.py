"""Files the user names (`--out`, `--plot`, a run's `sound.wav`): whole or absent, and a failed
write (a full disk, a quota, a read-only folder) is one OSError naming the file.

Each is written to a temporary file beside it (same folder, so the rename is atomic, and the
same suffix, so a writer that picks its format from the name still does) and renamed into
place only once complete: a full disk never leaves a 0-byte or half-written file, and a file
that was there before is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write `path`'s content to; on success it is synced and
    renamed over `path`; on any failure it is removed, and an OSError is raised again with
    `path` as its filename (main prints `PATH: No space left on device`)."""
    path = Path(path)
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
        raise OSError(exc.errno, f"{exc.strerror or exc} ({kept})", str(path)) from exc
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """`path` holds `data`, whole, or is left as it was (OSError naming it)."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    """`path` holds `text` (UTF-8), whole, or is left as it was (OSError naming it)."""
    write_bytes(path, text.encode("utf-8"))
