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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from drills.speech import PhraseBook, acts_in_text, phrasebook
from range.voice.audio import SAMPLE_RATE_HZ, Pcm, file_blocks
from range.voice.corpus import (
    CHATTER,
    SNRS_DB,
    SPEEDS_WPM,
    TUNING_CHATTER,
    TUNING_SPEEDS_WPM,
    TUNING_VOICES,
    VOICES,
    mix_at_snr,
    noise_only,
    speech_16k,
    speech_end_s,
)
from range.voice.recognize import (
    EARLY,
    GARBAGE_WEIGHT,
    MIN_CONFIDENCE,
    RECHECK_MARGIN,
    EarlyRule,
    Heard,
    Listener,
    Note,
    Recognizer,
    Watch,
    listen,
)


@dataclass(frozen=True)
class Trial:
    phrase: str
    expected: str | None  # None: non-command audio, every act heard is false
    voice: str
    speed_wpm: int
    snr_db: float
    heard: list[Heard]
    seconds: float
    end_s: float  # where the speech really ends in the track (latency is measured from here)
    notes: list[Note] = field(default_factory=list)  # kept when tuning the early decision


def command_set(book: PhraseBook) -> list[tuple[str, str]]:
    """(phrase, act) for every phrase of a `command.*` act."""
    return [(p, a) for p, a in book.phrase_acts().items() if a.startswith("command.")]


def hear(
    recognizer: Recognizer,
    pcm: Pcm,
    early: EarlyRule | None,
    notes: list[Note] | None = None,
    recheck_margin: float | None = RECHECK_MARGIN,
) -> list[Heard]:
    # Everything the decoder says at the end of an utterance, confident or not, so the threshold
    # can be judged afterwards (an early decision is always held to its own threshold).
    listener = Listener(
        recognizer,
        min_confidence=0.0,
        early=early,
        observe=None if notes is None else notes.append,
        recheck_margin=recheck_margin,
    )
    return list(listen(file_blocks(pcm), listener))


def run_trials(
    quick: bool,
    seed: int = 0,
    tuning: bool = False,
    garbage_weight: float = GARBAGE_WEIGHT,
    early: EarlyRule | None = EARLY,
    keep_notes: bool = False,
    normalise: bool = True,
    peak_dbfs: float | None = None,
    phrase_weights: dict[str, float] | None = None,
    decoder_options: dict[str, Any] | None = None,
    recheck_margin: float | None = RECHECK_MARGIN,
) -> list[Trial]:
    """The test split (the bench's figures), or with `tuning` the split GARBAGE_WEIGHT and the
    EarlyRule are chosen on (other voices, speeds, sentences and noise draws). With
    `keep_notes` each trial keeps the listener's notes, for `replay`; `normalise=False` decodes
    each utterance at its recorded level (the figures before level normalisation). `peak_dbfs`
    plays every track (speech, chatter, noise) at that speech peak instead of about -10 dBFS
    (a shout close to the microphone, a quiet voice or a microphone gain set low).
    `phrase_weights` replaces the recogniser's PHRASE_WEIGHTS (grammar weights per phrase);
    `decoder_options` are PocketSphinx settings over the recogniser's own (`{"beam": 1e-60}`;
    not the acoustic model's feat.params, which PocketSphinx reads over them); `recheck_margin`
    the listener's second-pass margin (RECHECK_MARGIN; None: no second pass)."""
    book = phrasebook()
    recognizer = Recognizer(
        book,
        garbage_weight=garbage_weight,
        normalise=normalise,
        phrase_weights=phrase_weights,
        decoder_options=decoder_options,
    )

    def hear_(pcm: Pcm) -> tuple[list[Heard], list[Note]]:
        notes: list[Note] = []
        return hear(recognizer, pcm, early, notes if keep_notes else None, recheck_margin), notes

    rng = np.random.default_rng(seed + (1 if tuning else 0))
    level = 0.3 if peak_dbfs is None else 10 ** (peak_dbfs / 20)  # mix_at_snr's default: 0.3
    voices = TUNING_VOICES if tuning else VOICES[:2] if quick else VOICES
    speeds = TUNING_SPEEDS_WPM if tuning else SPEEDS_WPM[:1] if quick else SPEEDS_WPM
    snrs = (10.0,) if tuning else SNRS_DB
    chatter = TUNING_CHATTER if tuning else CHATTER[: 3 if quick else None]
    phrases = command_set(book)[:: 3 if quick else 1]
    trials: list[Trial] = []
    for phrase, act in phrases:
        for voice in voices:
            for speed in speeds:
                speech = speech_16k(phrase, voice, speed)
                end = speech_end_s(speech)
                for snr in snrs:
                    pcm = mix_at_snr(speech, snr, rng, level)
                    heard, notes = hear_(pcm)
                    trials.append(Trial(phrase, act, voice, speed, snr, heard, _s(pcm), end, notes))
    for sentence in chatter:
        for voice in voices:
            speech = speech_16k(sentence, voice, 160)
            pcm = mix_at_snr(speech, 10.0, rng, level)
            heard, notes = hear_(pcm)
            trials.append(
                Trial(sentence, None, voice, 160, 10.0, heard, _s(pcm), speech_end_s(speech), notes)
            )
    pcm = noise_only(rng, 10.0 if quick else 30.0, 0.02 * level / 0.3)
    heard, notes = hear_(pcm)
    trials.append(Trial("(range noise)", None, "", 0, 0.0, heard, _s(pcm), 0.0, notes))
    return trials


def replay(trial: Trial, rule: EarlyRule, book: PhraseBook) -> Trial:
    """`trial` (run with no early decision, notes kept) as if the listener had used `rule`: the
    acts it would decide early, then those of each utterance's end not already decided. The
    early acts' latency leaves out the few ms of work a block takes."""
    heard: list[Heard] = []
    said: dict[float, set[str]] = {}
    watch = Watch(rule, book)
    for note in trial.notes:
        if note.begin:
            watch = Watch(rule, book)
        if watch.note(note):
            done = said.setdefault(note.start_s, set())
            for m in acts_in_text(watch.ready, book):
                if m.act not in done:
                    done.add(m.act)
                    end = max(note.start_s, note.t_s - rule.quiet_frames * 0.03)
                    heard.append(
                        Heard(
                            note.text,
                            m.phrase,
                            m.act,
                            note.confidence,
                            note.start_s,
                            end,
                            note.t_s,
                            note.t_s - end,
                        )
                    )
    heard += [h for h in trial.heard if h.act not in said.get(h.start_s, set())]
    return replace(trial, heard=heard)


def _s(pcm: Pcm) -> float:
    return len(pcm) / SAMPLE_RATE_HZ


def confident(trial: Trial, min_confidence: float = MIN_CONFIDENCE) -> list[Heard]:
    return [h for h in trial.heard if h.confidence >= min_confidence]


def correct(trial: Trial, min_confidence: float = MIN_CONFIDENCE) -> bool:
    """The expected act heard, and no other act."""
    acts = {h.act for h in confident(trial, min_confidence)}
    return acts == {trial.expected}


def figures(
    trials: list[Trial], min_confidence: float = MIN_CONFIDENCE
) -> list[tuple[str, float, str, float, str]]:
    """(name, value, unit, target, better) rows, as bench/run.py's Figure takes them."""
    rows: list[tuple[str, float, str, float, str]] = []
    commands = [t for t in trials if t.expected is not None]
    for snr in SNRS_DB:
        at = [t for t in commands if t.snr_db == snr]
        accuracy = 100.0 * sum(correct(t, min_confidence) for t in at) / max(len(at), 1)
        target = 95.0 if snr == 10.0 else 0.0
        # Held out: the test split's voices, speeds, chatter and noise draws; nothing is tuned
        # on them (GARBAGE_WEIGHT, EarlyRule, RECHECK_*: the tuning split; LOOKBACK_*: other
        # clips).
        name = f"speech-act accuracy, command set, held-out voices, {snr:.0f} dB SNR"
        rows.append((name if snr == 10.0 else name + " (info)", accuracy, "%", target, "higher"))
    other = [t for t in trials if t.expected is None]
    minutes = sum(t.seconds for t in other) / 60.0
    false_acts = sum(len(confident(t, min_confidence)) for t in other)
    rows.append(
        (
            "false speech acts per minute, held-out non-command speech and range noise",
            false_acts / max(minutes, 1e-9),
            "/min",
            1.0,
            "lower",
        )
    )
    # From where the speech really ends, not where the VAD says it did: the VAD's own delay counts.
    latencies = [(h.end_s + h.latency_s - t.end_s) * 1e3 for t in commands for h in confident(t)]
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


def tune_early(garbage_weight: float) -> int:
    """The tuning split's figures with no early decision and under each EarlyRule of a grid."""
    book = phrasebook()
    tuned = run_trials(
        False, tuning=True, garbage_weight=garbage_weight, early=None, keep_notes=True
    )
    print("no early decision: " + ", ".join(f"{r[1]:.1f} {r[2]}" for r in figures(tuned)))
    for stable in (0.06, 0.09, 0.12, 0.15):
        for prefix in (0.15, 0.21, 0.3):
            for quiet in (2, 3, 4):
                for drop in (4.0, 6.0, 8.0, 10.0):
                    rule = EarlyRule(stable, prefix, quiet, drop)
                    rows = figures([replay(t, rule, book) for t in tuned])
                    print(
                        f"stable {stable:g} s, prefix {prefix:g} s, quiet {quiet}, drop {drop:g} dB"
                        ": " + ", ".join(f"{r[1]:.1f} {r[2]}" for r in rows)
                    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a third of the phrases, 2 voices")
    parser.add_argument("--misses", action="store_true", help="also list what was misheard")
    parser.add_argument(
        "--tune",
        metavar="W,W,...",
        help="run the tuning split (never the test split) at each garbage weight",
    )
    parser.add_argument(
        "--thresholds",
        default="0,0.5,0.8,0.9,0.99",
        help="with --tune: confidence thresholds to report for each weight",
    )
    parser.add_argument(
        "--tune-early",
        action="store_true",
        help="run the tuning split once and replay it under a grid of early-decision rules",
    )
    parser.add_argument(
        "--as-recorded",
        action="store_true",
        help="decode each utterance at its recorded level (no level normalisation), to compare",
    )
    parser.add_argument(
        "--peak-dbfs",
        type=float,
        help="play every track at this speech peak (dBFS) instead of about -10 dBFS",
    )
    parser.add_argument(
        "--garbage-weight",
        type=float,
        default=GARBAGE_WEIGHT,
        help=f"the garbage loop's grammar weight on the test split (default {GARBAGE_WEIGHT:g})",
    )
    parser.add_argument(
        "--phrase-weights",
        metavar="JSON",
        help="grammar weights per phrase, a JSON object, instead of PHRASE_WEIGHTS",
    )
    parser.add_argument(
        "--decoder",
        metavar="JSON",
        help='PocketSphinx settings over the recogniser\'s, a JSON object ({"beam": 1e-60})',
    )
    parser.add_argument(
        "--recheck-margin",
        type=float,
        default=RECHECK_MARGIN,
        help=f"the second pass's margin (default {RECHECK_MARGIN}); with --tune too",
    )
    args = parser.parse_args()
    options = None if args.decoder is None else json.loads(args.decoder)
    if args.tune_early:
        return tune_early(float(args.tune) if args.tune else GARBAGE_WEIGHT)
    if args.tune:
        for weight in [float(w) for w in args.tune.split(",")]:
            tuned = run_trials(
                False,
                tuning=True,
                garbage_weight=weight,
                decoder_options=options,
                recheck_margin=args.recheck_margin,
            )
            for threshold in [float(c) for c in args.thresholds.split(",")]:
                rows = figures(tuned, threshold)
                print(
                    f"garbage weight {weight:g}, min confidence {threshold:g}: "
                    + ", ".join(f"{r[1]:.1f} {r[2]}" for r in rows)
                )
            if args.misses:
                print_misses(tuned)
        return 0
    weights = None if args.phrase_weights is None else json.loads(args.phrase_weights)
    trials = run_trials(
        args.quick,
        garbage_weight=args.garbage_weight,
        normalise=not args.as_recorded,
        peak_dbfs=args.peak_dbfs,
        phrase_weights=weights,
        decoder_options=options,
        recheck_margin=args.recheck_margin,
    )
    rows = figures(trials)
    if args.json:
        keys = ("name", "value", "unit", "target", "better")
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows], indent=2))
    else:
        for name, value, unit, target, better in rows:
            sign = ">=" if better == "higher" else "<="
            print(f"{name:<72} {value:8.1f} {unit:<4} {sign} {target:g}")
    if args.misses:
        print_misses(trials)
    return 0


def print_misses(trials: list[Trial]) -> None:
    """Each command trial misheard, and each non-command trial where anything was heard."""
    for t in trials:
        if (t.expected is not None and not correct(t)) or (t.expected is None and t.heard):
            heard = [(h.text, h.act, round(h.confidence, 2)) for h in t.heard]
            print(f"  {t.snr_db:4.0f} dB {t.voice:<9} {t.speed_wpm} {t.phrase!r}: {heard}")


if __name__ == "__main__":
    sys.exit(main())
