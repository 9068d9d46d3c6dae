"""An empathy scene's debrief on the console (docs/drills.md, "Empathy scenes").

After the scene, each question is asked on stderr and answered, in this order of precedence:
`--answer ID=TEXT` (typed, given up front), `--answer-wav ID=FILE` (a recorded spoken answer,
recognised offline), `--debrief-voice` (spoken now into the microphone for
`--debrief-seconds`), or typed at the prompt on a terminal. With none of them a question is
skipped. Each answer becomes a `debrief_answer` record; a spoken answer's audio is kept in
the run folder (`debrief-<question>.wav`) and named in it (`clip`, `clip_sha256`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from range.cli import util as cliutil

if TYPE_CHECKING:
    from drills.schema import Drill

Debrief = Callable[["Drill"], list[dict[str, Any]]]


# How long one spoken answer may be recorded with --debrief-voice (s): long enough for a
# considered answer, short enough that a typo (2000) does not leave the microphone open an hour.
MAX_DEBRIEF_S = 300.0
DEFAULT_DEBRIEF_S = 20.0


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: give QUESTION_ID=ANSWER (both non-empty)")
    return key.strip(), value.strip()


def add_debrief_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--answer",
        action="append",
        type=_pair,
        default=[],
        metavar="ID=TEXT",
        help="an empathy scene: answer a debrief question without a prompt (repeat)",
    )
    p.add_argument(
        "--answer-wav",
        action="append",
        type=_pair,
        default=[],
        metavar="ID=FILE",
        help="an empathy scene: a debrief answer spoken in a recording, recognised (repeat)",
    )
    p.add_argument(
        "--debrief-voice",
        action="store_true",
        help="an empathy scene: answer the debrief by voice into the microphone",
    )
    p.add_argument(
        "--debrief-seconds",
        type=cliutil.bounded_float(MAX_DEBRIEF_S, "seconds"),
        default=None,
        metavar="SECONDS",
        help="with --debrief-voice: how long each answer is recorded, more than 0 and at most"
        f" {MAX_DEBRIEF_S:g} (default: {DEFAULT_DEBRIEF_S:g})",
    )


def check_debrief_options(args: argparse.Namespace, drill: Drill) -> None:
    """Refuse, before the run, answers a drill cannot take: one line naming the option."""
    given = [("--answer", k) for k, _ in getattr(args, "answer", [])]
    given += [("--answer-wav", k) for k, _ in getattr(args, "answer_wav", [])]
    if getattr(args, "debrief_voice", False):
        given.append(("--debrief-voice", ""))
    elif getattr(args, "debrief_seconds", None) is not None:
        raise ValueError("--debrief-seconds is for --debrief-voice: add --debrief-voice")
    if not given:
        return
    first: dict[str, str] = {}
    for option, key in given:
        if key and key in first:
            raise ValueError(
                f"{option} {key}: question {key!r} is answered twice (first by {first[key]});"
                " answer each question once"
            )
        first.setdefault(key, option)
    if drill.empathy is None:
        raise ValueError(f"{given[0][0]} is for an empathy scene; {drill.id} has no debrief")
    known = [q.id for q in drill.empathy.debrief]
    for option, key in given:
        if key and key not in known:
            raise ValueError(
                f"{option} {key}: {drill.id} has no debrief question {key!r}; its questions:"
                f" {', '.join(known)}"
            )
    from range.voice.audio import cut_short, read_wav

    for _, path in getattr(args, "answer_wav", []):
        try:  # read now: a bad file is refused before the run, not after the scene
            # NaN samples are said as --voice says them (rc17 #7); a cut-short one is refused.
            said: list[str] = []
            pcm = read_wav(Path(path), said.append)
        except FileNotFoundError:
            raise ValueError(f"--answer-wav: {path}: no such file") from None
        except ValueError as exc:
            raise ValueError(f"--answer-wav: {exc}") from None
        if len(pcm) == 0:  # an empty or header-only file: no answer in it to hear or keep
            why = cut_short(Path(path)) or f"{path}: no sound in it (0 samples)"
            raise ValueError(
                f"--answer-wav: {why}: record the answer again, or type it with --answer ID=TEXT"
            )
        for line in said:
            cliutil.say(f"openrange: --answer-wav {line}")


def make_debrief(args: argparse.Namespace) -> Debrief:
    typed = dict(getattr(args, "answer", []))
    recorded = {k: Path(v) for k, v in getattr(args, "answer_wav", [])}
    voice = bool(getattr(args, "debrief_voice", False))
    seconds = getattr(args, "debrief_seconds", None) or DEFAULT_DEBRIEF_S

    def debrief(drill: Drill) -> list[dict[str, Any]]:
        from range.runs.drill import DEBRIEF_AUDIO as AUDIO
        from range.voice.audio import audio_off_reason, microphone_blocks, read_wav
        from range.voice.dictation import transcribe

        assert drill.empathy is not None
        speaking = voice
        if speaking and (reason := audio_off_reason()) is not None:
            cliutil.say(f"openrange: audio is off: {reason}; type the answers instead")
            speaking = False
        out: list[dict[str, Any]] = []
        cliutil.say(f"Debrief: {len(drill.empathy.debrief)} question(s)")
        unanswerable = [
            q.id
            for q in drill.empathy.debrief
            if q.id not in typed and q.id not in recorded and not speaking
        ]
        if unanswerable and not sys.stdin.isatty():
            cliutil.say(
                f"  (no terminal to type on: {', '.join(unanswerable)} left unanswered; answer"
                " with --answer ID=TEXT, --answer-wav ID=FILE or --debrief-voice. A scene with"
                " no answer is INCOMPLETE)"
            )
        for question in drill.empathy.debrief:
            cliutil.say(f"  {question.question}")
            record = {"question": question.id, "text": question.question}
            if question.id in typed:
                out.append(record | {"answer": typed[question.id], "how": "typed"})
            elif question.id in recorded:
                heard = transcribe(read_wav(recorded[question.id]))
                how = "voice" if heard else "skipped"
                # The recording itself is kept with the run (range/runs/drill.py), heard or not.
                out.append(record | {"answer": heard, "how": how, AUDIO: recorded[question.id]})
            elif speaking:
                import numpy as np

                cliutil.say(f"  (speak now: {seconds:g} s)")
                pcm = np.concatenate(list(microphone_blocks(seconds)))
                heard = transcribe(pcm)
                how = "voice" if heard else "skipped"
                out.append(record | {"answer": heard, "how": how, AUDIO: pcm})
            elif sys.stdin.isatty():
                print("  > ", end="", file=sys.stderr, flush=True)  # stdout: the result only
                answer = sys.stdin.readline().strip()
                out.append(record | {"answer": answer, "how": "typed" if answer else "skipped"})
            else:
                out.append(record | {"answer": "", "how": "skipped"})
        return out

    return debrief
