"""Speech bench: commands spoken by espeak-ng in several voices and speeds, mixed with range noise,
fed through the same pipeline as the microphone (VAD, then PocketSphinx).

    .venv/bin/python bench/speech.py [--json] [--quick]

bench/run.py calls `speech_figures()`. Figures (docs/speech.md):
  speech-act accuracy on the command set at 20, 10, 5 dB SNR   (target >= 95 % at 10 dB)
  false acts per minute of non-command speech and range noise  (target <= 1)
  latency from end of speech to event, median                  (target <= 300 ms)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass

import numpy as np

from drills.speech import PhraseBook, phrasebook
from range.voice.audio import SAMPLE_RATE_HZ, Pcm, file_blocks
from range.voice.corpus import (
    CHATTER,
    SNRS_DB,
    SPEEDS_WPM,
    VOICES,
    mix_at_snr,
    noise_only,
    speech_16k,
)
from range.voice.recognize import MIN_CONFIDENCE, Heard, Listener, Recognizer, listen


@dataclass(frozen=True)
class Trial:
    phrase: str
    expected: str | None  # None: non-command audio, every act heard is false
    voice: str
    speed_wpm: int
    snr_db: float
    heard: list[Heard]
    seconds: float


def command_set(book: PhraseBook) -> list[tuple[str, str]]:
    """(phrase, act) for every phrase of a `command.*` act."""
    return [(p, a) for p, a in book.phrase_acts().items() if a.startswith("command.")]


def hear(recognizer: Recognizer, pcm: Pcm) -> list[Heard]:
    # Everything the decoder says, confident or not, so the threshold can be judged afterwards.
    return list(listen(file_blocks(pcm), Listener(recognizer, min_confidence=0.0)))


def run_trials(quick: bool, seed: int = 0) -> list[Trial]:
    book = phrasebook()
    recognizer = Recognizer(book)
    rng = np.random.default_rng(seed)
    voices = VOICES[:2] if quick else VOICES
    speeds = SPEEDS_WPM[:1] if quick else SPEEDS_WPM
    phrases = command_set(book)[:: 3 if quick else 1]
    trials: list[Trial] = []
    for phrase, act in phrases:
        for voice in voices:
            for speed in speeds:
                speech = speech_16k(phrase, voice, speed)
                for snr in SNRS_DB:
                    pcm = mix_at_snr(speech, snr, rng)
                    trials.append(
                        Trial(phrase, act, voice, speed, snr, hear(recognizer, pcm), _s(pcm))
                    )
    for sentence in CHATTER[: 3 if quick else None]:
        for voice in voices:
            pcm = mix_at_snr(speech_16k(sentence, voice, 160), 10.0, rng)
            trials.append(Trial(sentence, None, voice, 160, 10.0, hear(recognizer, pcm), _s(pcm)))
    pcm = noise_only(rng, 10.0 if quick else 30.0)
    trials.append(Trial("(range noise)", None, "", 0, 0.0, hear(recognizer, pcm), _s(pcm)))
    return trials


def _s(pcm: Pcm) -> float:
    return len(pcm) / SAMPLE_RATE_HZ


def confident(trial: Trial, min_confidence: float = MIN_CONFIDENCE) -> list[Heard]:
    return [h for h in trial.heard if h.confidence >= min_confidence]


def correct(trial: Trial, min_confidence: float = MIN_CONFIDENCE) -> bool:
    """The expected act heard, and no other act."""
    acts = {h.act for h in confident(trial, min_confidence)}
    return acts == {trial.expected}


def figures(trials: list[Trial]) -> list[tuple[str, float, str, float, str]]:
    """(name, value, unit, target, better) rows, as bench/run.py's Figure takes them."""
    rows: list[tuple[str, float, str, float, str]] = []
    commands = [t for t in trials if t.expected is not None]
    for snr in SNRS_DB:
        at = [t for t in commands if t.snr_db == snr]
        accuracy = 100.0 * sum(correct(t) for t in at) / max(len(at), 1)
        target = 95.0 if snr == 10.0 else 0.0
        name = f"speech-act accuracy, command set, {snr:.0f} dB SNR"
        rows.append((name if snr == 10.0 else name + " (info)", accuracy, "%", target, "higher"))
    other = [t for t in trials if t.expected is None]
    minutes = sum(t.seconds for t in other) / 60.0
    false_acts = sum(len(confident(t)) for t in other)
    rows.append(
        (
            "false speech acts per minute, non-command speech and range noise",
            false_acts / max(minutes, 1e-9),
            "/min",
            1.0,
            "lower",
        )
    )
    latencies = [h.latency_s * 1e3 for t in commands for h in confident(t)]
    rows.append(
        (
            "speech latency, end of speech to event, median",
            statistics.median(latencies) if latencies else float("nan"),
            "ms",
            300.0,
            "lower",
        )
    )
    return rows


def speech_figures(quick: bool = False) -> list[tuple[str, float, str, float, str]]:
    """The bench's figures; needs espeak-ng and pocketsphinx."""
    return figures(run_trials(quick))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a third of the phrases, 2 voices")
    parser.add_argument("--misses", action="store_true", help="also list what was misheard")
    args = parser.parse_args()
    trials = run_trials(args.quick)
    rows = figures(trials)
    if args.json:
        keys = ("name", "value", "unit", "target", "better")
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows], indent=2))
    else:
        for name, value, unit, target, better in rows:
            sign = ">=" if better == "higher" else "<="
            print(f"{name:<72} {value:8.1f} {unit:<4} {sign} {target:g}")
    if args.misses:
        for t in trials:
            if (t.expected is not None and not correct(t)) or (t.expected is None and t.heard):
                heard = [(h.text, h.act, round(h.confidence, 2)) for h in t.heard]
                print(f"  {t.snr_db:4.0f} dB {t.voice:<9} {t.speed_wpm} {t.phrase!r}: {heard}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
