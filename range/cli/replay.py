"""`openrange replay RUN --as WHO`: a saved run from the officer's, a subject's or a
bystander's eyes, as PNG frames, in the mirror window or in the headset."""

from __future__ import annotations

import argparse
from pathlib import Path

from range.cli import sound as sound_options
from range.cli import util as cliutil
from range.deps import require


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 960x540)") from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: both sides must be positive")
    from range.review.render import RenderSizeError, check_size

    try:
        check_size(width, height)  # the GL's own limits are checked once it is opened
    except RenderSizeError as exc:  # argparse names the option itself
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--size ")) from None
    return width, height


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="a saved run from any eyes: officer, subject, bystander (PNG, window, headset)",
        description="Replay RUN_DIR as one person saw it, at that person's eye height and "
        "gaze from the log's positions and phases: the officer, the subject (the first "
        "subject that is not a bystander), a subject by id, or a bystander (the drill's, "
        "or a watcher at the lane's side). With --png it writes frames with no display or "
        "headset; with --window it plays in the mirror window (space pauses, arrows scrub); "
        "otherwise it plays in the headset.",
        epilog="examples:\n"
        "  openrange replay runs/20261121-101500-knife-approach-v1 --as subject --png out/\n"
        "  openrange replay runs/20261121-101500-knife-approach-v1 --as bystander --window\n"
        "  openrange replay runs/20261121-101500-knife-approach-v1 --as officer\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a directory under runs/")
    p.add_argument(
        "--as",
        dest="who",
        default=None,
        metavar="WHO",
        help="officer, subject, bystander or a subject id (default: officer; an empathy"
        " scene's perspective subject for an empathy scene)",
    )
    p.add_argument("--png", type=Path, default=None, metavar="DIR", help="write PNG frames here")
    p.add_argument(
        "--every",
        type=cliutil.positive_float,
        default=0.5,
        metavar="SECONDS",
        help="with --png: one frame every SECONDS of run time (default 0.5)",
    )
    p.add_argument(
        "--size",
        type=_size,
        default=(960, 540),
        help="with --png or --window: WIDTHxHEIGHT in pixels (default 960x540)",
    )
    p.add_argument("--window", action="store_true", help="play in the mirror window")
    p.add_argument(
        "--speed", type=cliutil.positive_float, default=1.0, help="playback speed (default 1)"
    )
    p.add_argument(
        "--frames",
        type=cliutil.positive_int,
        default=None,
        help="window or headset: show this many frames, then stop",
    )
    p.add_argument(
        "--screenshot", type=Path, default=None, help="with --window --frames: save the last frame"
    )
    p.add_argument(
        "--sound",
        action=sound_options.Given,
        choices=["off", "alsa", "device"],
        default="off",
        help="with --window or the headset at --speed 1: play the run's sound.wav along,"
        " through ALSA (--sound-device) or PortAudio's default output (default: off)",
    )
    sound_options.add_sound_device_option(p)
    p.set_defaults(handler=_cmd_replay)


def default_viewer(run_dir: Path) -> str:
    """Whose eyes a replay takes when `--as` is not given: an empathy scene's perspective
    subject (its `run_started` says), else the officer's."""
    import json

    try:
        with (run_dir / "events.jsonl").open(encoding="utf-8") as events:
            first = json.loads(events.readline())
    except (OSError, ValueError):
        return "officer"  # the replay itself names what is wrong with the run
    perspective = first.get("perspective") if isinstance(first, dict) else None
    return perspective if isinstance(perspective, str) else "officer"


def _cmd_replay(args: argparse.Namespace) -> int:
    require("pydantic")
    from range.runs.saved import drill_run_records

    if args.png is not None and args.png.exists() and not args.png.is_dir():
        raise ValueError(f"--png {args.png}: not a folder (the frames go in a folder)")
    if args.png is not None:
        from range import outfile

        outfile.check_folder(args.png)  # before any renderer is opened
    # A missing, unreadable or empty log, or a qualification attempt's (replay plays drill
    # runs), is named in one line before any renderer, window or headset is opened.
    drill_run_records(args.run_dir)
    if args.who is None:
        args.who = default_viewer(args.run_dir)
    # Whose eyes, checked against the run's own drill before a renderer, window or headset
    # runtime is looked for: a mistyped --as is named as such, never as a missing runtime.
    require("numpy", "pydantic", "moderngl")
    from range.review.replay import Viewpoint
    from range.runs.saved import saved_drill_run

    Viewpoint.parse(args.who, saved_drill_run(args.run_dir)[1])
    if args.png is not None:
        require("numpy", "pydantic", "moderngl", "matplotlib")
        from range.review.replay import frame_files, write_pngs

        older = len(frame_files(args.png))  # an earlier replay's frames: removed (nu23 #8)
        written = write_pngs(args.run_dir, args.who, args.png, args.every, args.size)
        print(frames_line(len(written), args.png, older))
        return 0
    from range.cli.sound import playing_along

    if args.window:
        require("numpy", "pydantic", "moderngl", "glfw")
        from range.review.mirror import play

        with playing_along(args, args.run_dir):
            shown = play(
                args.run_dir,
                speed=args.speed,
                frames=args.frames,
                screenshot=args.screenshot,
                size=args.size,
                who=args.who,
            )
        print(f"{shown} frames shown")
        return 0
    require("numpy", "pydantic", "moderngl", "xr")
    from range.review.replay import play_headset

    with playing_along(args, args.run_dir):
        shown = play_headset(args.run_dir, args.who, speed=args.speed, frames=args.frames)
    print(f"{shown} frames shown in the headset")
    return 0


def frames_line(written: int, out: Path, older: int) -> str:
    """`replay --png`'s summary: `2 frames written to out (1 older frame removed first)`."""
    removed = f" ({older} older frame{'s' if older != 1 else ''} removed first)" if older else ""
    return f"{written} frame{'s' if written != 1 else ''} written to {out}{removed}"
