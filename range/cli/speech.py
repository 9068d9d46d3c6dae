"""`openrange speech ...`: hear the officer offline (recognize, listen), list the phrase book, and
speak a subject's line (say). docs/speech.md."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from range.cli import corrections as cli_corrections
from range.cli import util as cliutil
from range.cli.columns import pad
from range.cli.util import help_when_bare
from range.deps import require

AUDIO_OFF = 9  # exit status when a command needs an audio device and there is none
# The longest `speech listen --seconds` (s): a day; a typo (1e12) is refused, not taken as
# "listen for ever" (leave --seconds out for that: until Ctrl-C).
MAX_LISTEN_S = 86_400.0
# The farthest `speech say --distance` (m): at REFERENCE_DISTANCE_M / MIN_GAIN (50 m) the level
# reaches its floor (range/voice/speak.py), so a line farther off sounds the same; 1e9 is a typo.
MAX_SAY_DISTANCE_M = 50.0


def wav_out(text: str) -> Path:
    """`speech say --out`: a file name ending in .wav, since WAV is what is written (an .mp3
    name would hold WAV data under the wrong name)."""
    path = Path(text)
    if path.suffix.lower() != ".wav":
        raise argparse.ArgumentTypeError(
            f"{text}: WAV audio is what is written: give a name ending in .wav"
        )
    return path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "speech",
        help="hear the officer's commands offline; subjects' voices",
        description="OpenRange hears what the officer says with PocketSphinx, offline, "
        "constrained to the phrase book, and turns it into speech acts (identify, "
        "command.drop_weapon, warning.taser, rapport.help, ...) that drills branch on. "
        "docs/speech.md.",
        epilog="examples:\n"
        "  openrange speech recognize take.wav --json\n"
        "  openrange speech listen --seconds 30\n"
        "  openrange speech phrases --phrases agency-phrases.toml\n"
        "  openrange speech say 'leave me alone' --azimuth -30 --distance 4 --out line.wav\n"
        "  openrange speech correct runs/RUN --at 3.4 --act command.stop --by 'Sgt Lee'\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = group.add_subparsers(title="speech commands", metavar="VERB")
    phrases_help = "an agency phrase-book TOML merged over the built-in one (docs/speech.md)"

    rec = verbs.add_parser(
        "recognize",
        help="print the speech acts heard in a recording",
        description="Run a sound file through the same pipeline as the microphone (voice "
        "activity, then recognition) and print each act heard with its times.",
        **cliutil.examples(
            "openrange speech recognize take.wav",
            "openrange speech recognize take.wav --phrases agency-phrases.toml --json",
        ),
    )
    rec.add_argument("file", type=Path, metavar="FILE.wav")
    rec.add_argument("--json", action="store_true", help="print the acts as JSON")
    rec.add_argument("--phrases", type=Path, default=None, metavar="AGENCY.toml", help=phrases_help)
    rec.set_defaults(handler=_recognize)

    live = verbs.add_parser(
        "listen",
        help="print speech acts live from the microphone",
        description="Listen on the default microphone and print each act as it is heard. "
        "With no audio device it says so in one line (exit status 9).",
        **cliutil.examples(
            "openrange speech listen",
            "openrange speech listen --seconds 30 --json",
        ),
    )
    live.add_argument(
        "--seconds",
        type=cliutil.bounded_float(MAX_LISTEN_S, "seconds"),
        default=None,
        metavar="SECONDS",
        help=f"stop after this many seconds (at most {MAX_LISTEN_S:g}; default: until Ctrl-C)",
    )
    live.add_argument("--json", action="store_true", help="one JSON object per act")
    live.add_argument(
        "--phrases", type=Path, default=None, metavar="AGENCY.toml", help=phrases_help
    )
    live.set_defaults(handler=_listen)

    book = verbs.add_parser(
        "phrases",
        help="list the phrase book: each act and its phrases",
        **cliutil.examples(
            "openrange speech phrases",
            "openrange speech phrases --phrases agency-phrases.toml --json",
        ),
    )
    book.add_argument("--json", action="store_true", help="print the phrase book as JSON")
    book.add_argument(
        "--phrases", type=Path, default=None, metavar="AGENCY.toml", help=phrases_help
    )
    book.set_defaults(handler=_phrases)

    say = verbs.add_parser(
        "say",
        help="speak a subject's line with espeak-ng, placed in stereo",
        description="Speak TEXT with a subject's voice, panned to --azimuth and attenuated "
        "by --distance; play it (ALSA) or write it to --out.",
        **cliutil.examples(
            "openrange speech say 'drop it, drop it'",
            "openrange speech say 'leave me alone' --subject 1 --azimuth -30 --distance 4"
            " --out line.wav",
        ),
    )
    say.add_argument("text", metavar="TEXT")
    say.add_argument(
        "--subject",
        type=cliutil.nonneg_int,
        default=0,
        help="subject index, 0 or more: picks the voice (default 0)",
    )
    say.add_argument(
        "--azimuth",
        type=cliutil.float_within(-180.0, 180.0, "degrees"),
        default=0.0,
        help="degrees, -180 to 180, + right (default 0)",
    )
    say.add_argument(
        "--distance",
        type=cliutil.bounded_float(MAX_SAY_DISTANCE_M, "metres"),
        default=3.0,
        help=f"metres, more than 0 and at most {MAX_SAY_DISTANCE_M:g} (default 3)",
    )
    say.add_argument(
        "--out", type=wav_out, default=None, help="write a WAV file (NAME.wav) instead of playing"
    )
    say.add_argument("--device", default="default", help="ALSA device (default: default)")
    say.set_defaults(handler=_say)
    cli_corrections.register(verbs)
    help_when_bare(group)


def _heard_line(h: object) -> str:
    from range.voice.recognize import Heard

    assert isinstance(h, Heard)
    # In single quotes, as `speech correct` quotes a phrase: repr() put "what's your name" in
    # double quotes and 'drop the knife' in single ones.
    quoted = f"'{h.phrase}'"
    return (
        f"{h.start_s:7.2f}-{h.end_s:6.2f} s  {h.act:<22} {pad(quoted, 26)} "
        f"conf {h.confidence:.2f}  ({h.latency_s * 1e3:.0f} ms)"
    )


def _heard_json(h: object) -> dict[str, object]:
    """An act heard, as `--json` prints it: times in seconds rounded to the millisecond,
    confidence to 3 decimals (docs/speech.md)."""
    from range.voice.recognize import Heard

    assert isinstance(h, Heard)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in h.as_json().items()}


def _recognize(args: argparse.Namespace) -> int:
    require("numpy", "pydantic", "pocketsphinx", "soundfile")
    from range.voice.audio import file_blocks, read_wav
    from range.voice.lexicon import load_phrases
    from range.voice.recognize import Listener, Recognizer, listen

    book = load_phrases(args.phrases)
    pcm = read_wav(args.file, lambda line: cliutil.say(f"openrange: {line}"))
    heard = list(listen(file_blocks(pcm), Listener(Recognizer(book))))
    if args.json:
        print(json.dumps([_heard_json(h) for h in heard], indent=2))
        return 0
    for h in heard:
        print(_heard_line(h))
    if not heard:
        print(f"no speech acts heard in {args.file}")
    return 0


def _listen(args: argparse.Namespace) -> int:
    require("numpy", "pydantic", "pocketsphinx")
    from range.voice.audio import AudioUnavailableError, audio_off_reason, microphone_blocks
    from range.voice.lexicon import load_phrases
    from range.voice.recognize import Listener, Recognizer, listen

    book = load_phrases(args.phrases)  # a bad phrase book is named whether or not audio is on
    reason = audio_off_reason()
    if reason is not None:
        print(f"openrange: audio is off: {reason}", file=sys.stderr)
        return AUDIO_OFF
    listener = Listener(Recognizer(book))
    try:
        for h in listen(microphone_blocks(args.seconds), listener):
            print(json.dumps(_heard_json(h)) if args.json else _heard_line(h), flush=True)
    except AudioUnavailableError as exc:
        print(f"openrange: {exc}", file=sys.stderr)
        return AUDIO_OFF
    except KeyboardInterrupt:
        pass
    return 0


def _phrases(args: argparse.Namespace) -> int:
    require("pydantic")
    from drills.speech import phrasebook, speech_trigger

    if args.phrases is not None:  # an agency's words are checked against the dictionary
        require("pocketsphinx")
        from range.voice.lexicon import load_phrases

        book = load_phrases(args.phrases)
    else:
        book = phrasebook()
    if args.json:
        print(json.dumps(book.model_dump(), indent=2))
        return 0
    print(f"phrase book: {book.language}, {len(book.phrase_acts())} phrases, {len(book.acts)} acts")
    for entry in book.acts:
        print(f"\n{speech_trigger(entry.act)}  {entry.description}".rstrip())
        for phrase in entry.phrases:
            print(f"    {phrase}")
    return 0


def _say(args: argparse.Namespace) -> int:
    require("numpy", "soundfile")
    from range.voice.audio import AudioUnavailableError
    from range.voice.speak import (
        AlsaSink,
        SpeechFailedError,
        SpeechUnavailableError,
        WavSink,
        say,
        voice_for_subject,
    )

    try:
        track = say(args.text, voice_for_subject(args.subject), args.azimuth, args.distance)
        if args.out is not None:
            WavSink(args.out).play(track)
            print(args.out)
        else:
            AlsaSink(args.device).play(track)
    except SpeechFailedError as exc:
        print(f"openrange: {exc}", file=sys.stderr)
        return 2
    except (AudioUnavailableError, SpeechUnavailableError) as exc:
        message = str(exc)
        said = message if "audio is off" in message else "audio is off: " + message
        print(f"openrange: {said}", file=sys.stderr)  # as listen says it: stdout is the result
        return AUDIO_OFF
    return 0
