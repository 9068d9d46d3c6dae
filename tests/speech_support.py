"""What the voice tests share (tests/test_nu17g.py, test_nu17h.py, test_empathy.py,
test_rc17_f17r.py): espeak-ng's words placed at their times in a 16 kHz track, as a microphone
would have heard them, and recordings with no sound in them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt


@cache
def said(text: str, voice: str = "en-us", wpm: int = 175) -> npt.NDArray[np.float64]:
    """espeak-ng saying `text` (range/voice/corpus.py), 16 kHz, peak 1.0; cached per text."""
    from range.voice.corpus import speech_16k

    speech = speech_16k(text, voice, wpm)
    return np.asarray(speech / np.max(np.abs(speech)), dtype=np.float64)


def spoken_track(
    items: list[tuple[float, str]], seconds: float, peak: float = 0.25
) -> npt.NDArray[np.int16]:
    """`seconds` of 16 kHz int16 audio with espeak-ng's en-us voice saying each text at its time
    (s), each utterance at peak `peak` of full scale; words past the end are cut."""
    out = np.zeros(int(seconds * 16_000))
    for at_s, text in items:
        speech = said(text) * peak
        i = int(at_s * 16_000)
        out[i : i + len(speech)] += speech[: len(out) - i]
    return np.asarray(np.clip(out, -1, 1) * 32767, dtype=np.int16)


def soundless_wavs(folder: Path) -> tuple[Path, Path]:
    """Two WAVs in `folder` with no sound: `empty.wav` (a whole file of 0 samples) and
    `hdr.wav` (a 16-bit file's 44-byte header alone, promising samples it lacks)."""
    import soundfile

    empty = folder / "empty.wav"
    soundfile.write(str(empty), np.zeros(0), 22050)
    whole = folder / "ok.wav"
    soundfile.write(str(whole), np.zeros(2205), 22050, subtype="PCM_16")
    header = folder / "hdr.wav"
    header.write_bytes(whole.read_bytes()[:44])
    return empty, header


def unrecorded(err: str, kept: Path, count: int) -> str:
    """`err` (stderr of `score` or `report` on a run played without a badge) less its line
    saying the corrections file `kept` and its `count` correction(s) are not checked against
    the records (rc19 #7), which must come first."""
    first, _, rest = err.partition("\n")
    assert first == (
        f"openrange: warning: {kept}: not checked against the records: the run was played"
        f" without a badge, so no records hold it; its {count} correction(s) are applied as"
        " the file has them"
    ), err
    return rest
