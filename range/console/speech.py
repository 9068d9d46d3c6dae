"""Lines the instructor speaks as a subject, through text to speech (Debian's espeak-ng).

On a lane with `--speech play` a line is spoken as it is given (the frame loop never waits for
it); with `wav` (the default) or `play`, every line of a finished run is also written into the
run's folder as `speech/NN.wav`, in order, for the debrief. Text goes to espeak-ng on its
standard input, never on its command line (a line starting with '-' is a line, not an option).
Each subject gets its own voice, by its place in the drill.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from drills.log import LogRecord

SPEECH_DIR = "speech"
MODES = ("off", "wav", "play")
# espeak-ng voice variants, one per subject in the drill's order (then round again).
VOICES = ("en-us+m3", "en-us+f3", "en-us+m5", "en-us+f4")
SPEAK_TIMEOUT_S = 30.0


def engine() -> str | None:
    return shutil.which("espeak-ng")


def voice(subject: str | None, subjects: list[str]) -> str:
    index = subjects.index(subject) if subject in subjects else 0
    return VOICES[index % len(VOICES)]


def speak(text: str, voice_name: str) -> subprocess.Popen[bytes] | None:
    """Say `text` now on this machine's speakers; returns at once (None: no engine)."""
    exe = engine()
    if exe is None:
        return None
    process = subprocess.Popen(
        [exe, "--stdin", "-v", voice_name],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(text.encode())
    process.stdin.close()
    return process


def said(records: list[LogRecord]) -> list[LogRecord]:
    return [r for r in records if r.kind == "instructor_command" and r.data.get("command") == "say"]


def write_speech(run_dir: Path, records: list[LogRecord]) -> list[Path]:
    """speech/01.wav, 02.wav, ... for the run's spoken lines, in order; [] without an engine."""
    exe = engine()
    lines = said(records)
    if exe is None or not lines:
        return []
    subjects = list(records[0].data.get("subjects", {}))
    folder = run_dir / SPEECH_DIR
    folder.mkdir(exist_ok=True)
    written = []
    for n, record in enumerate(lines, 1):
        path = folder / f"{n:02d}.wav"
        subprocess.run(
            [exe, "--stdin", "-v", voice(record.data.get("subject"), subjects), "-w", str(path)],
            input=str(record.data.get("text", "")).encode(),
            check=True,
            capture_output=True,
            timeout=SPEAK_TIMEOUT_S,
        )
        written.append(path)
    return written
