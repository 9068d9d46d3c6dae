"""`openrange drill ...`: the drill library for range masters, and running one."""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shlex
import sys
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from peripherals.messages import Model
from range.cli import sound
from range.cli import util as cliutil
from range.cli.columns import column_width, pad
from range.cli.debrief import add_debrief_options, check_debrief_options, make_debrief
from range.cli.sound import add_sound_options
from range.cli.util import (
    add_calibration_options,
    calibration_options,
    help_when_bare,
    validate_files,
)
from range.deps import require

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import ExitStack

    from drills.officer import OfficerScript
    from drills.schema import Drill, DrillFile
    from drills.speech import PhraseBook
    from range.records.store import Records
    from range.runs.drill import RunConfig, RunResult, Session
    from range.runs.poses import TrackedPoses
    from range.runs.runlog import RunWriteError
    from range.runs.saved import ScriptFile
    from range.voice.audio import Pcm
    from range.voice.soundtrack import LivePlayer
    from range.xr.lane import LaneHeadset, Tap
    from range.xr.runtime import OpenXRPoses

EPILOG = """\
examples:
  openrange drill list
  openrange drill show phone-draw-v1
  openrange drill validate my-drills/*.toml
  openrange drill validate my-drill.toml my-officer.toml
  openrange drill run domestic-knife-20ft-v1 --seed 3
  openrange drill run phone-draw-v1 --sim my-officer.toml --officer "Ofc. Rivera #4411"
  openrange drill run knife-approach-v1 --live --port /dev/ttyACM0 --port /dev/ttyACM1 \\
      --officer 4411 --require-calibration
  openrange drill run knife-approach-v1 --live --lane lane3.toml --officer 4411
  openrange drill run crisis-talk-down-v1 --voice officer.wav
  openrange drill run crisis-talk-down-v1 --voice officer.wav --phrases agency-phrases.toml
"""
# `drill run --help`: the group's examples of `drill run` alone (its list, show and validate
# lines are other commands').
RUN_EPILOG = (
    "\n".join(
        line
        for line in EPILOG.splitlines()
        if not line.startswith(
            ("  openrange drill list", "  openrange drill show", "  openrange drill validate")
        )
    )
    + "\n"
)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options every command that plays a drill takes (`demo`, `drill run`)."""
    p.add_argument(
        "--seed",
        type=cliutil.seed,
        default=None,
        help="run seed, a whole number from 0 to 2^63 - 1 (default: a new one, printed with"
        " the result); the same seed gives an identical event log",
    )
    p.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where runs are saved (default: ./runs)"
    )
    p.add_argument(
        "--no-save",
        action="store_true",
        help="write nothing: no run folder, no record (refused with --badge)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument(
        "--instructor",
        action="append",
        type=cliutil.instructor_press,
        default=[],
        metavar="SECONDS:BUTTON",
        help="press an instructor branch button at a drill time (repeat)",
    )
    p.add_argument(
        "--unplug-at",
        type=cliutil.finite_nonneg_float,
        default=None,
        metavar="SECONDS",
        help="fault drill: unplug the TASER replica at this drill time and plug it"
        " back in 0.3 s later; the drill suspends, finds it again and resumes",
    )
    p.add_argument(
        "--taser",
        default=None,
        metavar="MODEL[:CARTRIDGE,...]",
        help="the TASER issued: taser-x26p, taser-x2, taser-7 or taser-10, optionally with"
        " the cartridge of each bay (taser-7:taser7-cq,taser7-cq); default: the drill's"
        " taser_model / taser_loads, else taser-7. Refused when it contradicts a TASER the"
        " drill fixes",
    )
    p.add_argument(
        "--progress",
        choices=["auto", "always", "never"],
        default="auto",
        help="progress bar on stderr: auto shows it on a terminal (default: auto)",
    )
    add_sound_options(p)
    add_debrief_options(p)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "drill",
        help="list, show, validate and run drills",
        description="Drills are versioned TOML files (docs/drills.md): subjects, a phase graph "
        "of their behaviour, and the expected response. The built-in library covers "
        "traffic stops, edged weapons, crises, shoot / don't-shoot, active shooters, "
        "surrender, flight, TASER failure and bystanders.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = group.add_subparsers(title="drill commands", metavar="VERB")
    listing = verbs.add_parser(
        "list",
        epilog="examples:\n  openrange drill list\n  openrange drill list --json\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="the built-in drills",
        description="List the built-in drills with their titles.",
    )
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=_list)

    show = verbs.add_parser(
        "show",
        epilog="examples:\n"
        "  openrange drill show knife-approach-v1\n"
        "  openrange drill show my-drill-v1.toml --json\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="one drill: rationale, expected response, phases",
        description="Show a drill (built-in id or file): why it exists, what "
        "a correct officer does, and its phase graph.",
    )
    show.add_argument("drill", metavar="DRILL", help="built-in id or path to a .toml file")
    show.add_argument("--json", action="store_true", help="print the drill as JSON")
    show.set_defaults(handler=_show)

    validate = verbs.add_parser(
        "validate",
        epilog="examples:\n"
        "  openrange drill validate my-drill-v1.toml\n"
        "  openrange drill validate knife-approach-v1 my-officer.toml\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="check drill files (or built-in drills by id) and officer scripts",
        description="Check drill files (or built-in drills, by id) against the schema and the "
        "phase graph rules; every problem is named by file, line and field. An officer script "
        "(a file with steps, no phases) is checked as a script, and against the drill it names "
        "(drill = ID) when that drill is built in or given on the same command line, as "
        "`drill run --sim` checks it. Exit status 1 if any fails.",
    )
    validate.add_argument(
        "files",
        metavar="FILE",
        nargs="+",
        help="built-in drill or officer script id, or path to a drill or officer script .toml file",
    )
    validate.add_argument(
        "--phrases",
        type=Path,
        default=None,
        metavar="AGENCY.toml",
        help="an agency phrase book merged over the built-in one: a speech:ACT transition must"
        " name an act of the book in effect (docs/speech.md)",
    )
    validate.set_defaults(handler=_validate)

    run = verbs.add_parser(
        "run",
        help="run a drill with a scripted officer, or live with an officer's replicas",
        description="Run a drill end to end on emulated replicas with a scripted officer (the "
        "drill's expected response unless --sim names another script), score it and "
        "save its event log and result. With --live, an officer plays it with real replicas "
        "on the given serial ports (--port, or a lane file, docs/lanes.md), tracked through "
        "OpenXR, on the real clock; real replicas need a valid calibration profile unless a "
        "range master overrides.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("drill", metavar="DRILL", help="built-in id or path to a .toml file")
    run.add_argument(
        "--sim",
        default=None,
        metavar="SCRIPT",
        help="officer script id or file (default: the drill's expected response)",
    )
    run.add_argument(
        "--officer",
        default="scripted",
        type=cliutil.person,
        metavar="NAME",
        help="who the officer is, for the records (default: scripted); with --live, required:"
        " the officer in the headset (a badge number or a name)",
    )
    run.add_argument(
        "--live",
        action="store_true",
        help="the officer plays the drill with real replicas (--port or --lane), tracked"
        " through OpenXR, on the real clock",
    )
    run.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="PORT",
        help="with --live: a replica's serial port (repeat for a firearm and a TASER);"
        " overrides the lane file's",
    )
    run.add_argument(
        "--lane",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --live: the lane file naming its ports, hand and calibration (docs/lanes.md)",
    )
    run.add_argument(
        "--without",
        action="append",
        default=[],
        choices=("taser", "firearm"),
        help="with --live: play the drill without this issued weapon, which the lane has no"
        " replica for (repeatable; logged with the run). Without it, a live run whose lane"
        " lacks a weapon the drill issues is refused",
    )
    run.add_argument(
        "--hand",
        choices=("left", "right", "tracker"),
        default=None,
        help="with --live: what tracks the weapon in OpenXR: the left or right controller's aim"
        " pose, or a Vive tracker (default: the lane file's, else right)",
    )
    run.add_argument(
        "--headless",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="with --live: track the replicas with a pose-only OpenXR session and draw nothing"
        " (a bench without a headset); by default the drill is drawn in the headset;"
        " overrides the lane file's `headless`",
    )
    run.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="with --live: also show the run from the officer's eyes in a desktop window"
        " (the instructor's mirror); overrides the lane file's `mirror`",
    )
    run.add_argument(
        "--badge",
        default=None,
        type=cliutil.badge,
        help="also keep the run in the records under this badge number",
    )
    run.add_argument(
        "--db",
        default=None,
        type=cliutil.database_url,
        metavar="URL",
        help="records database (default: $OPENRANGE_DATABASE_URL or the user's)",
    )
    run.add_argument(
        "--voice",
        type=Path,
        default=None,
        metavar="OFFICER.wav",
        help="a simulated run hears the officer from this recording (t = 0 at the run's start;"
        " WAV, FLAC or OGG): each act heard is logged and the drill can branch on it; the"
        " script's own words are left out, the recording is kept with the run. A live run"
        " (--live) hears the microphone instead",
    )
    run.add_argument(
        "--phrases",
        type=Path,
        default=None,
        metavar="AGENCY.toml",
        help="an agency phrase book merged over the built-in one for what the officer says"
        " (--voice, a live run's microphone, the script's words); kept with the run"
        " (docs/speech.md)",
    )
    run.add_argument(
        "--policy",
        type=Path,
        default=None,
        metavar="POLICY.toml",
        help="the agency policy the run is judged by (default: the file $OPENRANGE_POLICY names,"
        " else the built-in one); kept and hashed with the run, named in its score and records"
        " (docs/scoring.md)",
    )
    add_calibration_options(run)
    add_run_options(run)
    run.set_defaults(handler=_run)
    help_when_bare(group)


def _list(args: argparse.Namespace) -> int:
    require("pydantic")
    from drills.schema import builtin_drills

    drills = builtin_drills()
    if args.json:
        print(json.dumps([{"id": d.id, "title": d.title} for d in drills.values()], indent=2))
    else:
        width = column_width(drills)
        for drill in drills.values():
            print(f"{pad(drill.id, width)}  {drill.title}")
    return 0


def _show(args: argparse.Namespace) -> int:
    require("pydantic")
    from drills.schema import read_drill_file
    from range.records.store import content_label

    source = read_drill_file(args.drill)
    drill = source.drill
    issued = drill.issued_weapons()
    if args.json:
        print(json.dumps({**drill.model_dump(mode="json"), "issued": list(issued)}, indent=2))
        return 0
    label, note = content_label("drill", drill.id, source.sha256)
    print(f"{drill.title} [{label}]" + (f"\n  {note}" if note else "") + "\n")
    print("Why:\n  " + " ".join(drill.rationale.split()))
    print("Expected response:\n  " + " ".join(drill.expected_response.split()))
    if drill.expected_officer:
        print(f"  (played by the officer script {drill.expected_officer})")
    how = "declared" if drill.weapons is not None else "default: both"
    names = [
        f"{w} ({drill.taser_model})" if w == "taser" and drill.taser_model else w for w in issued
    ]
    print(f"Issued weapons ({how}): {', '.join(names)}")
    if drill.taser_model is not None:  # --taser cannot replace it (nu24 #7)
        loads = f" loaded {', '.join(drill.taser_loads)}" if drill.taser_loads else ""
        print(f"  The drill fixes its TASER: {drill.taser_model}{loads}; --taser cannot replace it")
    from drills.officer import scripts_for

    scripts = scripts_for(drill.id)
    if scripts:
        print(f"Officer scripts (openrange drill run {drill.id} --sim ID):")
        for script in scripts:
            verdict = ""
            if script.expect is not None:
                rules = ", ".join(script.expect.rules)
                verdict = f"  [expect {script.expect.outcome}{': ' + rules if rules else ''}]"
            print(f"  {script.id}: {script.description}{verdict}")
    if drill.empathy is not None:
        print(
            f"Empathy scene: seen and heard as {drill.empathy.perspective}"
            f" (voices {drill.empathy.hears}); no force is scored. Debrief:"
        )
        for question in drill.empathy.debrief:
            print(f"  {question.id}: {question.question}")
    print("Subjects:")
    for s in drill.subjects:
        print(
            f"  {s.id}: {s.role}, {s.start_distance_ft:g} ft, holding {s.held_object},"
            f" facing {s.facing}, starts in {s.start_phase}"
        )
        attributes = _attribute_words(s.attributes.model_dump(exclude_defaults=True))
        if attributes:
            print(f"      {attributes}")
        if s.deescalation is not None:
            model = _attribute_words(s.deescalation.model_dump())
            print(f"      de-escalation (docs/drills.md): {model}")
    print("Phases:")
    for phase in drill.phases:
        end = "  [ends the drill]" if phase.ends_drill else ""
        print(f"  {phase.subject}.{phase.id}: {phase.behaviour}, {phase.movement}{end}")
        if phase.say is not None:
            print(f'      says "{phase.say}"')
        if phase.attributes is not None:
            changes = _attribute_words(phase.attributes.model_dump(exclude_none=True))
            if changes:
                print(f"      from now on: {changes}")
        for t in phase.transitions:
            trigger = next(
                str(v) if k == "on" else f"{k} {v}"  # "on hit", not "on on hit"
                for k, v in t.model_dump().items()
                if k not in ("to", "chance") and v is not None
            )
            chance = f" ({t.chance:.0%})" if t.chance < 1 else ""
            print(f"      -> {t.to} on {trigger}{chance}")
    return 0


def _attribute_words(values: dict[str, object]) -> str:
    return ", ".join(
        f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items()
    )


def _validate(args: argparse.Namespace) -> int:
    require("pydantic", "pybullet")
    from drills.officer import builtin_officer_dir
    from drills.schema import builtin_drill_files, check_speech_triggers, drill_file
    from range.records.store import content_label

    builtin = builtin_drill_files()
    officers = {path.stem: path for path in builtin_officer_dir().glob("*.toml")}
    failed = 0
    paths = []
    for name in args.files:
        if name in builtin:
            paths.append(builtin[name])
        elif name in officers:  # a built-in officer script, by its id (its file's name)
            paths.append(officers[name])
        elif Path(name).suffix == ".toml" or Path(name).exists():
            paths.append(Path(name))
        else:
            failed += 1
            known = ", ".join(sorted(builtin))
            print(
                f"{name}: no drill file, officer script or built-in drill; built-in: {known}",
                file=sys.stderr,
            )
    phrases, book = _phrases(args)
    # Each file parsed once: a script's table, a drill's file (read again only where it
    # failed, to say why in its turn).
    scripts = {path: table for path in paths if (table := _script_table(path)) is not None}
    loaded: dict[Path, DrillFile] = {}

    def load_drill(path: Path) -> DrillFile:
        source = loaded[path] if path in loaded else drill_file(path)
        text = source.content.decode("utf-8", errors="replace")
        check_speech_triggers(source.drill, text, path, book, str(phrases or ""))
        source.check_expected_officer()  # a script file's path, beside the drill (nu24 #10)
        return source

    # The drills given beside a script: a script is checked against the one it names.
    given: dict[str, Drill] = {}
    for path in paths if scripts else []:
        if path not in scripts:
            with contextlib.suppress(ValueError, OSError):  # said in its turn below
                loaded[path] = drill_file(path)
                given.setdefault(loaded[path].drill.id, loaded[path].drill)

    def load(path: Path) -> DrillFile | _CheckedScript:
        if path in scripts:
            return _check_script_file(path, scripts[path], given, book)
        return load_drill(path)

    def describe(loaded: DrillFile | _CheckedScript) -> str:
        if isinstance(loaded, _CheckedScript):
            steps = len(loaded.script.steps)
            return f"officer script {loaded.script.id}, {steps} step(s); {loaded.note}"
        d = loaded.drill
        label, note = content_label("drill", d.id, loaded.sha256)
        return f"{label}, {len(d.phases)} phases" + (f"; {note}" if note else "")

    checked = validate_files(paths, load, describe)
    return 1 if failed else checked


@dataclass(frozen=True, slots=True)
class _CheckedScript:
    """An officer script `drill validate` checked, and against what (`note`)."""

    script: OfficerScript
    note: str


def _script_table(path: Path) -> dict[str, object] | None:
    """The TOML table of a file given to `drill validate` when it is an officer script
    (docs/drills.md): its top level has `steps` and no `phases` (a drill has phases, a script
    steps). None for a drill, or a file that is not TOML (checked as a drill)."""
    from physics.datafiles import DataFileError, read_bytes

    try:
        text = read_bytes(path).decode("utf-8", errors="replace")
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except (OSError, DataFileError, tomllib.TOMLDecodeError, RecursionError):
        return None  # said when the file is checked as a drill
    return data if "steps" in data and "phases" not in data else None


def _check_script_file(
    path: Path, table: dict[str, object], given: dict[str, Drill], book: PhraseBook | None
) -> _CheckedScript:
    """An officer script file by its schema and, when the drill it plays is built in or given
    on the same command line, against that drill, as `drill run --sim` checks it: every problem
    at once. `table`: its TOML table (`_script_table`). The drill it plays: the one it names
    (`drill = ID`), else one whose `expected_officer` it is."""
    from drills.officer import OfficerScript, load_script_for
    from drills.schema import builtin_drills
    from physics.datafiles import load_model
    from scoring.policy import RULES

    named, own = table.get("drill"), table.get("id")
    name = named if isinstance(named, str) else ""
    if name and given and name not in given:
        # It names another drill than the one(s) given with it: checked against those, as
        # `drill run DRILL --sim SCRIPT` plays it there, so validate never passes a pair that
        # run refuses (rc19 #6).
        for other in given.values():
            script = load_script_for(path, other, RULES, book, table)
        others = ", ".join(given)
        return _CheckedScript(
            script,
            f"it names drill {name}, not {others} given with it: checked against {others},"
            " as drill run DRILL --sim plays it there",
        )
    drill = given.get(name) or builtin_drills().get(name)
    how = ""
    if not name:
        players = (*given.values(), *builtin_drills().values())
        drill = next((d for d in players if d.expected_officer in (own, str(path))), None)
        how = " (its expected response)"
    if drill is not None:
        script = load_script_for(path, drill, RULES, book, table)
        return _CheckedScript(script, f"checked against drill {drill.id}{how}")
    script = load_model(path, OfficerScript, data=table)  # parsed once
    if not name:
        return _CheckedScript(script, "not checked against a drill: it names none (drill = ID)")
    return _CheckedScript(
        script,
        f"not checked against drill {name}: not built in; give its file too"
        f" (openrange drill validate DRILL.toml {path})",
    )


def _run(args: argparse.Namespace) -> int:
    require("numpy", "pydantic", "serial", "pybullet")
    from drills.schema import read_drill_file

    cliutil.refuse_unsaved_record(args)
    args.officer = _badge_officer(args)
    if twice := sorted({w for w in args.without if args.without.count(w) > 1}):
        # Each weapon once: a repeat is a typo, never a second weapon left out (rc21 #5).
        raise ValueError(f"--without {twice[0]} is given twice: name each weapon left out once")
    source = read_drill_file(args.drill)
    if args.live or args.port or args.lane is not None:
        return play_live(args, source)
    if args.mirror or args.headless:
        raise ValueError("--mirror and --headless are for a live drill: add --live")
    if args.without:
        raise ValueError(
            "--without is for a live drill: a simulated run issues what the drill issues"
        )
    if args.sim is None:
        source.check_expected_officer()  # a missing file said by line and field
    script = args.sim or source.expected_officer()
    if script is None:
        raise ValueError(f"{source.drill.id} names no expected response: give --sim SCRIPT")
    return play(
        args, source, script, args.officer, badge=args.badge, check_expect=args.sim is not None
    )


def _taser_options(spec: str | None) -> dict[str, object]:
    """RunConfig fields from `--taser MODEL[:CARTRIDGE,...]` (nothing when not given)."""
    if spec is None:
        return {}
    model, _, loads = spec.partition(":")
    taser = Model.from_slug(model)
    if not taser.is_taser:
        raise ValueError(f"--taser {spec}: {model} is not a TASER")
    out: dict[str, object] = {"taser_model": taser}
    if ":" in spec:
        out["taser_cartridges"] = _taser_loads(spec, taser, loads)
    return out


def _taser_loads(spec: str, taser: Model, loads: str) -> tuple[str, ...]:
    """The cartridge ids of `--taser MODEL:LOADS`, one per bay, each one the model takes."""
    from peripherals.emulator import TASER_SPECS
    from physics.taser import builtin_cartridges

    bays = TASER_SPECS[taser].bays
    fits = [c.id for c in builtin_cartridges().values() if c.model == taser.slug]
    allowed = (
        f"{taser.slug} takes {bays} cartridge(s), one per bay, each one of {', '.join(fits)}"
        f" (or give {taser.slug} alone for its default loads)"
    )
    chosen = tuple(c.strip() for c in loads.split(","))
    if not loads.strip() or len(chosen) != bays or any(not c for c in chosen):
        raise ValueError(f"--taser {spec}: {allowed}")
    for cartridge_id in chosen:
        known = builtin_cartridges().get(cartridge_id)
        if known is None:
            raise ValueError(f"--taser {spec}: unknown cartridge {cartridge_id!r}; {allowed}")
        if known.model != taser.slug:
            raise ValueError(
                f"--taser {spec}: {cartridge_id} is a {known.model} cartridge; {allowed}"
            )
    return chosen


def play(
    args: argparse.Namespace,
    source: DrillFile,
    script: str,
    officer_name: str,
    badge: str | None = None,
    check_expect: bool = False,
) -> int:
    """Run the drill read from `source` (the object itself, never looked up again by its id)
    as the command line asked and print the result. `check_expect`: the user named `script`
    (`drill run --sim`, `demo --officer`), so its declared `expect` is checked (exit 10)."""
    from drills.schema import check_instructor_buttons
    from range.cli.progress import ProgressBar
    from range.cli.summary import format_summary
    from range.runs.drill import RunConfig, run_drill
    from range.runs.policyfile import policy_in_effect

    buttons = list(args.instructor)  # (SECONDS, BUTTON) pairs, parsed by cliutil
    # A time past the drill's end would silently do nothing: refused, with the drill's limit.
    limit_s = source.drill.time_limit_s
    times = [("--unplug-at", args.unplug_at)] if args.unplug_at is not None else []
    times += [("--instructor", at) for at, _ in buttons]
    for option, at_s in times:
        if at_s > limit_s:
            raise ValueError(
                f"{option} {at_s:g} s is past drill {source.drill.id}'s time limit: allowed 0"
                f" to {limit_s:g} s"
            )
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    voice: Path | None = getattr(args, "voice", None)
    pcm: Pcm | None = None  # the recording, read once: its soundtrack mixes it in after the run
    if voice is not None:
        from range.voice.audio import read_wav

        said: list[str] = []
        try:  # a missing or non-audio file (or a folder) is one named line before the run
            pcm = read_wav(voice, said.append)
        except (FileNotFoundError, ValueError) as exc:
            raise ValueError(f"--voice {exc}") from None
        if len(pcm) == 0:  # empty or header-only: nothing to hear (rc17 #4), as --answer-wav
            why = said[0] if said else f"{voice}: no sound in it (0 samples)"
            raise ValueError(f"--voice {why}: nothing in it can be heard; record it again")
        for line in said:
            cliutil.say(f"openrange: --voice {line}")
    phrases, book = _phrases(args)
    _check_speech_triggers(source, phrases, book)
    officer_file = _script_file(script)  # read once: the bytes played are kept and hashed
    config = RunConfig(
        drill=source.drill,
        drill_file=source,
        voice=voice,
        phrases=phrases,
        phrasebook=book,
        officer=_officer_for(script, source.drill, book, officer_file),
        officer_file=officer_file,
        seed=seed,
        policy_file=policy_in_effect(getattr(args, "policy", None)),
        runs_dir=None if args.no_save else args.runs_dir,
        unplug_taser_at_s=args.unplug_at,
        **_taser_options(getattr(args, "taser", None)),  # type: ignore[arg-type]
        instructor=tuple(sorted(buttons)),
        officer_name=officer_name,
        badge=badge,
        **calibration_options(args),  # type: ignore[arg-type]
        debrief=make_debrief(args) if source.drill.empathy is not None else None,
    )
    check_instructor_buttons(config.drill, [button for _, button in buttons])
    check_debrief_options(args, config.drill)
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    sound.speech_first(args)  # said before the run, not in the middle of its output
    # An unknown badge: refused before the run; a second Ctrl-C is ignored until the run is
    # closed in the records, and one after the run has ended is held till the command is done.
    with cliutil.ctrl_c_once() as ctrl_c:
        with _Registration(args, badge) as registration:
            config = registration.config(replace(config, on_end=ctrl_c.hold))
            bar = ProgressBar(f"{config.drill.id} seed {seed}") if show else None
            try:
                result, unwritten = registration.run(lambda: run_drill(config, bar))
                if bar is not None:
                    bar.finish(result.duration_s, f"{result.state.value}, {result.end_reason}")
            finally:
                if bar is not None:
                    bar.close()
            record = result.as_json()
            # recorded first: a soundtrack that cannot be written loses nothing
            registration.finish(record, result)
        failed = _after_run(args, config.drill, result, seed, unwritten, badge is not None, pcm)
        # Only a script the user named: a drill's own expected response (or the demo's default
        # script) is not checked on every run at a random seed.
        expectation = (
            _expectation(config.officer, config.drill, seed, result) if check_expect else None
        )
        if expectation is not None:
            record["expect"] = expectation  # in --json (result.json is the run's, as it was)
        empathy = config.drill.empathy
        if empathy is not None and result.run_dir is not None:
            cliutil.say(
                f"Seen through {empathy.perspective}'s eyes: openrange replay {result.run_dir}"
                " --window --sound alsa (or in the headset)"
            )
        if args.json:
            print(json.dumps(record, indent=2, sort_keys=True))
        else:
            print(format_summary(result))
            if badge is not None or officer_name != "scripted":
                print(records_line(badge, record))
        if expectation is not None and expectation["message"]:
            cliutil.say(str(expectation["message"]))
        if failed is not None:
            cliutil.say(failed)
            return 9
        if _stopped(result) or _ended_first(ctrl_c, result, record):
            return STOPPED_STATUS
        if status := graded_status(result):
            return status
        if expectation is not None and expectation["met"] is False:
            return EXPECT_UNMET
        return 0


# `drill run --sim SCRIPT`'s exit status when the script's declared `expect` does not hold at
# the seed it is declared for (docs/drills.md, "Officer scripts").
EXPECT_UNMET = 10


def _expectation(
    script: OfficerScript | None, drill: Drill, seed: int, result: RunResult
) -> dict[str, object] | None:
    """Whether the officer script's declared `expect` held (None: it declares none): checked
    at EXPECT_SEED on the drill it names, on a graded run; at another seed, on another drill or
    on a run not graded (INCOMPLETE), said to be not checked. `message` is the line to print
    ('' when it held)."""
    from drills.officer import EXPECT_SEED
    from scoring.score import unmet_expectation

    if script is None or script.expect is None:
        return None
    expect = script.expect
    out: dict[str, object] = {"outcome": expect.outcome, "rules": list(expect.rules)}
    declared = f"{script.id} expects {expect.outcome}" + (
        f" [{', '.join(expect.rules)}]" if expect.rules else ""
    )
    if script.drill != drill.id:
        why = f"{declared} on drill {script.drill}, not {drill.id}: not checked"
        return out | {"checked": False, "met": None, "message": why}
    if seed != EXPECT_SEED:
        why = f"{declared} at seed {EXPECT_SEED}: not checked at seed {seed}"
        return out | {"checked": False, "met": None, "message": why}
    if result.score.incomplete:
        # A run that was not graded is no verdict on the script: its own exit status says so
        # (NOT_GRADED_STATUS), never "expected PASS, got INCOMPLETE" (nu26 #9: an empathy
        # scene's watch script, run with its debrief unanswered).
        why = f"{declared}: not checked, the run was not graded ({result.score.incomplete})"
        if drill.empathy is not None:
            why += "; answer the debrief (--answer ID=TEXT) to check it"
        return out | {"checked": False, "met": None, "message": why}
    unmet = unmet_expectation(expect.outcome, expect.rules, result.score)
    message = "" if unmet is None else f"officer script {script.id}: {unmet}"
    return out | {"checked": True, "met": unmet is None, "message": message}


# The exit status of a run a range master stopped with Ctrl-C (the shell's 128 + SIGINT).
STOPPED_STATUS = 130

# The exit status of a run that ended with no grade (`Score: INCOMPLETE ... not graded`): it
# faulted (a replica lost and not back), was aborted, or an empathy scene's debrief went
# unanswered. A wrapper script tells it from a graded run (0) without parsing --json (nu20 #12).
NOT_GRADED_STATUS = 11


def records_line(badge: str | None, record: dict[str, object]) -> str:
    """The summary's last line: the drill run the records keep, or that they keep none (a run
    played with --officer alone is saved in its folder, never in the records: nu20 #14)."""
    if badge is not None:
        return f"Recorded as drill run {record['record']} for badge {badge}."
    return (
        "Not kept in the records (no --badge): keep an officer's runs with --badge BADGE"
        " (once: openrange records officers --add BADGE --name NAME --agency AGENCY)"
    )


def graded_status(result: RunResult) -> int:
    """0 for a run that was graded (PASS or FAIL alike), NOT_GRADED_STATUS for one that ended
    with no grade (a Ctrl-C is told apart before: STOPPED_STATUS)."""
    return NOT_GRADED_STATUS if result.score.incomplete else 0


def _stopped(result: RunResult) -> bool:
    """Whether Ctrl-C stopped the run; if so, says so in one line (where it was kept)."""
    from range.runs.drill import STOPPED

    if result.end_reason != STOPPED:
        return False
    where = f"saved in {result.run_dir}" if result.run_dir is not None else "not saved"
    cliutil.say(f"{STOPPED} at {result.duration_s:.2f} s: the run is closed, not graded; {where}")
    return True


def _ended_first(ctrl_c: cliutil.CtrlC, result: RunResult, record: dict[str, object]) -> bool:
    """Whether a Ctrl-C came only after the run had ended (held: the run was saved and
    recorded as it ended, docs/drills.md "Stopping a run"); if so, says so in one line."""
    if not ctrl_c.late:
        return False
    number = record.get("record")
    cliutil.say(
        ctrl_c.late_line(
            f"the run had ended ({result.state.value} at {result.duration_s:.2f} s): nothing"
            " was cut",
            result.run_dir,
            None if number is None else f"drill run {number}",
        )
    )
    return True


def _after_run(
    args: argparse.Namespace,
    drill: Drill,
    result: RunResult,
    seed: int,
    unwritten: RunWriteError | None,
    recorded: bool,
    voice: Pcm | None = None,
) -> str | None:
    """The soundtrack written after a run (recorded already), or the one line naming the file
    that could not be written: the soundtrack's, or result.json's when only that failed (the
    log is whole, so the run is complete and recorded as such; no partial file is left, and
    the soundtrack is not tried on the disk that just filled)."""
    kept = "the run and its record are kept" if recorded else "the run is kept"
    if unwritten is not None:
        why = unwritten.cause.strerror or unwritten.cause
        return (
            f"openrange: {unwritten.path}: cannot write ({why}): the run is complete (its"
            f" event log is whole); {kept}"
        )
    from range.voice.speak import SpeechFailedError

    try:
        sound.after_run(args, drill, result.records, seed, result.run_dir, voice)
    except OSError as exc:
        return sound.write_failed(exc, kept)
    except SpeechFailedError as exc:  # the run is recorded and its summary printed all the same
        return f"openrange: {exc}: the soundtrack was not written; {kept}"
    return None


def _phrases(args: argparse.Namespace) -> tuple[Path | None, PhraseBook | None]:
    """`--phrases` and the book it gives (the built-in one merged with it), checked before the
    run (a bad phrase book is one named line per problem and leaves no run behind): the one
    book the whole run uses, the script's speak steps, the recogniser and the drill's checks."""
    path: Path | None = getattr(args, "phrases", None)
    if path is None:
        return None, None
    require("pocketsphinx")
    from range.voice.lexicon import load_phrases

    return path, load_phrases(path)


def _check_speech_triggers(
    source: DrillFile, phrases: Path | None, book: PhraseBook | None
) -> None:
    """Before the run: every speech:ACT transition names an act of the run's phrase book."""
    from drills.schema import check_speech_triggers
    from physics.datafiles import decode

    text = decode(source.content, source.path)
    check_speech_triggers(source.drill, text, source.path, book, str(phrases or ""))


def _officer_for(
    script: str, drill: Drill, book: PhraseBook | None = None, file: ScriptFile | None = None
) -> OfficerScript:
    """The officer script `--sim` names (or the drill's expected one), checked against the drill
    it is about to play and the run's phrase book (`book`; None: the built-in one), before the
    run: file, line and field of what does not fit. `file`: the script file as `_script_file`
    read it (None: a built-in by its id), parsed from those bytes: the ones kept and hashed."""
    from drills.officer import check_script, find_officer, load_script_for
    from physics.datafiles import decode
    from scoring.policy import RULES

    if file is not None:
        # Its schema and its fit to the drill checked at once: every problem in one go.
        text = decode(file.content, file.path)
        return load_script_for(file.path, drill, RULES, book, text=text)
    officer = find_officer(script)
    check_script(officer, drill, f"officer script {script}", "", RULES, book)
    return officer


def _script_file(script: str) -> ScriptFile | None:
    """The file `--sim` names, read to be kept with the run and hashed into its log (None: a
    built-in script by its id) (nu24 #6)."""
    from drills.officer import builtin_officers
    from range.runs.saved import script_file

    return script_file(script, builtin_officers())


def _badge_officer(args: argparse.Namespace) -> str:
    """Who the officer is, with `--badge B`: the records' officer for B. `--officer` left out
    (or given as B itself, or the name in any case and spacing) takes the name from the
    records; another name is refused in one line, so a run is never kept under one officer
    and logged and tallied under another.
    Without --badge, `--officer` as given. An unknown badge is refused by the records."""
    if not args.badge:
        return str(args.officer)
    from range.records.store import Records

    with Records.open(args.db, create=False) as records:
        name = str(records.officer(args.badge)["name"])

    # Typed at a range master's console: "ofc.  rivera" names the same officer.
    def same(text: str) -> str:
        return " ".join(text.split()).casefold()

    if same(str(args.officer)) not in {same(x) for x in ("scripted", args.badge, name)}:
        raise ValueError(
            f"--officer {args.officer!r} is not badge {args.badge}'s officer ({name!r} in the"
            " records): leave out --officer to take the name from the records"
        )
    return name


class _Registration:
    """The records side of a drill run played for a badge (`--badge`): the officer checked
    before the run; the run registered in the records as it starts (`Records.begin_drill_run`:
    a run killed meanwhile is listed by `records incomplete` and closed by `records close
    --drill-run`), and finished into the chained drill runs at its end, or, cut short (a full
    disk), kept as INCOMPLETE from what its log kept. Without a badge, it does nothing."""

    def __init__(self, args: argparse.Namespace, badge: str | None) -> None:
        self.args = args
        self.badge = badge
        self.records: Records | None = None
        self.number: int | None = None  # the drill run in progress
        self.played: RunConfig | None = None

    def __enter__(self) -> _Registration:
        if self.badge is not None:
            from range.records.store import Records

            self.records = Records.open(self.args.db, create=False)
            try:
                self.records.officer(self.badge)
            except BaseException:
                self.records.close()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.records is not None:
            self.records.close()

    def config(self, config: RunConfig) -> RunConfig:
        """`config`, registering the run in the records once it has started."""
        if self.records is None:
            return config
        from dataclasses import replace

        from range import __version__

        records, badge = self.records, str(self.badge)
        self.played = config

        def begun(run_dir: Path | None, digest: str) -> None:
            self.number = records.begin_drill_run(
                badge, config.drill.id, config.seed, __version__, config.officer_id, digest, run_dir
            )

        def abandoned() -> None:
            if self.number is not None:
                records.abandon_drill_run(self.number)
                self.number = None

        return replace(config, on_begin=begun, on_abandon=abandoned)

    def run(self, play: Callable[[], RunResult]) -> tuple[RunResult, RunWriteError | None]:
        """The run's result, and the error of a result.json that could not be written (the
        run is complete: its log is whole); a run cut short is kept as INCOMPLETE first."""
        from range.runs.runlog import RunWriteError

        try:
            return play(), None
        except RunWriteError as exc:
            if exc.result is None:  # cut short (a full disk): kept in the records as INCOMPLETE
                self._cut(exc)
                raise
            return exc.result, exc  # only result.json: the run is complete

    def finish(self, record: dict[str, object], result: RunResult) -> None:
        """Record the run (`record`: its result.json's fields; its number is added). When the
        store fails at the run's end (PostgreSQL stopped, its disk full), the run is whole on
        disk and in progress in the records: what it was, where it is and how to record it
        are said before the store's one line, RecordsError raised on (nu25 #7)."""
        if self.records is None:
            return
        from range.cli.summary import format_summary
        from range.records.store import RecordsError

        try:
            record["record"] = self.records.add_drill_run(
                str(self.badge), record, in_progress=self.number
            )
        except RecordsError:
            if self.args.json:
                print(json.dumps(record, indent=2, sort_keys=True))
            else:
                print(format_summary(result))
            cliutil.say(self.left_in_progress(result.run_dir))
            raise

    def left_in_progress(self, run_dir: Path | None) -> str:
        """What a drill run the store failed to record left (nu25 #7): its folder, the drill
        run in progress the records list, and the command that records it."""
        from range.cli.records import db_words

        where = f"its run folder {run_dir} is whole" if run_dir is not None else "no run folder"
        if self.number is None:
            return f"openrange: the run was not recorded ({where})"
        words = ["openrange", "records", "close", "--drill-run", str(self.number)]
        close = shlex.join([*words, *db_words(self.args.db)])
        return (
            f"openrange: the run was not recorded ({where}): the records list it as drill run"
            f" in progress {self.number} for badge {self.badge}; once the store is back,"
            f" `{close} --by NAME --reason REASON` records it (a log that ended keeps its"
            " outcome)"
        )

    def _cut(self, exc: RunWriteError) -> None:
        """A drill run whose log could not be written to the end (a full disk) is kept in the
        records all the same, as INCOMPLETE (docs/records.md: a run without `run_ended`),
        scored from what its log kept on disk. Says which record it is, or why it could not
        be kept."""
        if self.records is None:
            return
        from range.records.store import RecordsError
        from range.runs.saved import drill_source, sha256

        config = self.played
        assert config is not None  # set before the run (`config`)
        result = result_from_log(
            exc.path.parent,
            drill=config.drill.id,
            digest=sha256(drill_source(config.drill, config.drill_file)[1]),
            officer=config.officer_id,
            seed=config.seed,
            why=f"cut short: {exc}",
        )
        try:
            number = self.records.add_drill_run(str(self.badge), result, in_progress=self.number)
        except RecordsError as not_kept:
            cliutil.say(f"openrange: the cut run was not recorded either: {not_kept}")
            return
        cliutil.say(
            f"Recorded as drill run {number} for badge {self.badge}: INCOMPLETE (cut short)."
        )


def result_from_log(
    run_dir: Path | None, drill: str, digest: str, officer: str, seed: int, why: str
) -> dict[str, object]:
    """A drill run's result for the records, scored from what its run folder's log holds (a
    log without `run_ended` is INCOMPLETE; one that ended keeps its outcome): for a run cut
    short, or killed before it was recorded (`records close --drill-run`). `why` says how it
    ended when its log did not."""
    from range import __version__
    from range.runs.policyfile import own_policy
    from range.runs.runlog import read_events
    from scoring.policy import default_policy
    from scoring.score import score_run

    log = []
    if run_dir is not None:
        try:
            log = read_events(run_dir)
        except (OSError, ValueError):  # a log unreadable too: nothing of it is scored
            log = []
    started = next((r.data for r in log if r.kind == "run_started"), {})
    ended = next((r.data for r in log if r.kind == "run_ended"), None)
    # The policy the run was started under (nu24 #2); with no folder, no log: the built-in.
    policy, label = (
        own_policy(run_dir, log) if run_dir is not None else (default_policy(), default_policy().id)
    )
    score = score_run(log, policy, label=label)
    return {
        "openrange_version": str(started.get("openrange_version") or __version__),
        "drill": str(started.get("drill") or drill),
        "drill_sha256": str(started.get("drill_sha256") or digest),
        "officer": str(started.get("officer") or officer),
        "seed": int(started.get("seed", seed)),
        "state": "incomplete" if ended is None else str(ended.get("state", "completed")),
        "end_reason": why if ended is None else str(ended.get("reason", "")),
        "duration_s": round(log[-1].t, 6) if log else 0.0,
        "complete": ended is not None and not score.incomplete,
        "score": score.as_json(),
        "run_dir": None if run_dir is None else str(run_dir),
    }


def microphone() -> Callable[[], Iterator[Pcm] | str]:
    """The live run's microphone, opened when the run has passed its replica and calibration
    checks (so a refused run never mentions audio): its blocks, or why audio is off after one
    line saying so: the run goes on without the officer's voice, and its log says why
    (run_started `officer_unheard`; docs/speech.md)."""
    from range.voice.audio import audio_off_reason, microphone_blocks

    def open_microphone() -> Iterator[Pcm] | str:
        reason = audio_off_reason()
        if reason is not None:
            cliutil.say(
                f"audio is off: {reason}; the run goes on without the officer's voice"
                " (the verbal rules are not judged)"
            )
            return reason
        return microphone_blocks(None)

    return open_microphone


def play_live(args: argparse.Namespace, source: DrillFile, tap: Tap | None = None) -> int:
    """The drill played live: an officer's replicas on serial ports, tracked through OpenXR,
    on the real clock (range/runs/drill.py, `LiveDrill`). With a headset, its one graphics
    session draws the run every frame and tracks the replicas (range/xr/lane.py; `tap` is
    called after each eye is drawn); `--headless` tracks them with a pose-only session."""
    from drills.schema import check_instructor_buttons
    from range.cli.summary import format_summary
    from range.clock import MonotonicClock
    from range.runs.drill import LiveDrill, RunConfig, run_drill
    from range.runs.lanefile import check_ports, display, load_lane
    from range.runs.policyfile import policy_in_effect

    if not args.live:
        raise ValueError("--port and --lane are for a live drill: add --live")
    if args.sim is not None or args.unplug_at is not None:
        raise ValueError("--sim and --unplug-at are for a simulated drill, not --live")
    if args.officer == "scripted":
        raise ValueError("--live needs --officer: who is in the headset (badge number or name)")
    if getattr(args, "voice", None) is not None:
        raise ValueError("--voice is for a simulated run: a live run hears the microphone")
    lane = None
    if args.lane is not None:  # the whole file, ports and profiles too, before anything opens
        lane = load_lane(args.lane, ports=not args.port, profiles=args.profiles is None)
    headless, mirror = display(lane, args.headless, args.mirror)
    if args.port:  # as a lane file's are: how many, each once, each there
        check_ports(args.port)
    ports = list(args.port) or (list(lane.ports) if lane is not None else [])
    if not ports:
        raise ValueError("--live needs the replicas' ports: --port PORT (repeat) or --lane FILE")
    hand = args.hand or (lane.hand if lane is not None else "right")
    # A live run is always gated (range/runs/drill.py checks every replica's profile), so
    # `--override NAME` is taken without --require-calibration.
    profiles = args.profiles
    if profiles is None and lane is not None and args.lane is not None:
        profiles = lane.profiles_dir(args.lane)
    clock = MonotonicClock()
    opened: list[OpenXRPoses] = []
    headsets: list[LaneHeadset] = []

    def open_poses(stack: ExitStack) -> TrackedPoses:
        require("xr")
        if headless:
            from range.xr.runtime import OpenXRPoses

            poses = stack.enter_context(OpenXRPoses(hand=hand, clock=clock))
            poses.focused()
            opened.append(poses)
            return poses
        from range.xr.lane import LaneHeadset
        from range.xr.session import HeadsetSession

        session = stack.enter_context(HeadsetSession(hand=hand, clock=clock))
        window = None
        if mirror:
            from range.review.mirror import LiveMirror

            window = stack.enter_context(LiveMirror())
            session.make_current()
        headset = LaneHeadset(session, tap=tap, mirror=window).wait_focused()
        headsets.append(headset)
        return headset

    def focused() -> bool:
        if headsets:
            return headsets[0].focused()
        return not opened or opened[0].pump(0.0) == "FOCUSED"

    def on_start() -> None:
        for headset in headsets:
            headset.start()
        cliutil.say("GO")

    buttons = list(args.instructor)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    player: LivePlayer | None = None  # started once the options have been checked

    def on_frame(run: Session) -> None:
        for headset in headsets:
            headset.frame(run)
        if player is not None:
            player.catch_up(run.engine.log.records)

    phrases, book = _phrases(args)
    _check_speech_triggers(source, phrases, book)
    config = RunConfig(
        drill=source.drill,
        drill_file=source,
        officer=None,
        seed=seed,
        policy_file=policy_in_effect(getattr(args, "policy", None)),
        runs_dir=None if args.no_save else args.runs_dir,
        instructor=tuple(sorted(buttons)),
        officer_name=args.officer,
        badge=args.badge,
        require_calibration=True,
        override_by=args.override,
        calibration_dir=profiles,
        live=LiveDrill(
            ports,
            open_poses,
            clock,
            focused=focused,
            on_start=on_start,
            voice=microphone(),
            say=cliutil.say,
            without=tuple(args.without),
        ),
        phrases=phrases,
        phrasebook=book,
        on_frame=on_frame,
        debrief=make_debrief(args) if source.drill.empathy is not None else None,
    )
    check_instructor_buttons(config.drill, [button for _, button in buttons])
    check_debrief_options(args, config.drill)
    with cliutil.ctrl_c_once() as ctrl_c:
        with _Registration(args, args.badge) as registration:
            config = registration.config(replace(config, on_end=ctrl_c.hold))
            cliutil.say(f"{config.drill.id}: live on {', '.join(ports)}; officer {args.officer}")
            sound.speech_first(args)  # before GO (the live player asks for the speaker too)
            player = sound.live_player(args, source.drill, seed)
            try:
                result, unwritten = registration.run(lambda: run_drill(config))
            finally:
                if player is not None:
                    player.close()
                    if player.error is not None:
                        cliutil.say(f"openrange: {player.error}")
            record = result.as_json()
            # recorded first: a soundtrack that cannot be written loses nothing
            registration.finish(record, result)
        failed = _after_run(args, config.drill, result, seed, unwritten, args.badge is not None)
        if args.json:
            print(json.dumps(record, indent=2, sort_keys=True))
        else:
            print(format_summary(result))
            print(records_line(args.badge, record))
        if failed is not None:
            cliutil.say(failed)
            return 9
        if _stopped(result) or _ended_first(ctrl_c, result, record):
            return STOPPED_STATUS
        return graded_status(result)
