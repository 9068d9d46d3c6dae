"""The scored summary an officer and a range master read after a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drills.log import LogRecord, run_started
from drills.speech import span_text
from range.cli.columns import column_width, pad
from range.runs.drill import RunResult
from range.runs.policyfile import BUILTIN_POLICY_FILE
from scoring.course import AttemptScore
from scoring.detection import Detection
from scoring.score import Finding, Kind, Outcome, Score

_MARK = {Kind.CREDIT: "+", Kind.INFO: " ", Kind.FINDING: "-", Kind.CRITICAL: "!"}


DEFAULT_POLICY_FILE = BUILTIN_POLICY_FILE


def finding_mark(score: Score, finding: Finding) -> tuple[str, str]:
    """The mark a finding's line carries and what follows it: `!` and `[critical: overrides the
    score]` for every finding that fails a graded run whatever its points (`overrides_score`:
    a critical one, and excessive force, rc24 #4); a critical one of an INCOMPLETE run, which
    has no score to override, `!` and `[critical]`."""
    if score.outcome is not Outcome.INCOMPLETE and finding.overrides_score:
        return "!", "  [critical: overrides the score]"
    if finding.kind is Kind.CRITICAL:
        return "!", "  [critical]"
    return _MARK[finding.kind], ""


def finding_kind(score: Score, finding: Finding) -> str:
    """A finding's kind as the report and the console's debrief name it, in the summary's mark
    words (`finding_mark`): `critical: overrides the score` for excessive force too."""
    _, words = finding_mark(score, finding)
    return words.strip(" []") or finding.kind.value


def _less_lethal(score: Score) -> str:
    if score.less_lethal_first is None:
        return f"n/a ({score.less_lethal_na or 'no force used'})"
    return "yes" if score.less_lethal_first else "NO"


def verdict_line(score: Score) -> str:
    """The outcome as a range master reads it: points and PASS / FAIL, or INCOMPLETE with why
    (no points: a run that never ended is not graded)."""
    if score.outcome is Outcome.INCOMPLETE:
        return f"INCOMPLETE  ({score.incomplete}; not graded, policy {score.policy})"
    overrides = sorted({f.rule for f in score.overridden_by})
    if overrides and score.outcome is Outcome.FAIL:
        which = ", ".join(overrides)
        verb = "overrides" if len(overrides) == 1 else "override"
        return (
            f"{score.score:.0f}/100  FAIL  ({which} {verb} the score: a critical finding or"
            f" excessive force fails the run whatever its points; policy {score.policy})"
        )
    return f"{score.score:.0f}/100  {score.outcome.value}  (policy {score.policy})"


def left_out(weapons: list[str]) -> str:
    """The issued weapons a run was played without (run_started `weapons_left_out`), as the
    summary, `score`, the report and `records show` say them (rc21 #5)."""
    return f"{', '.join(weapons)} (--without, by the range master)"


def format_score(score: Score) -> str:
    # An INCOMPLETE run is not graded: no decision line, only what happened up to the cut.
    graded = score.outcome is not Outcome.INCOMPLETE
    lines = [
        *([f"Decision:          {score.decision}"] if graded else []),
        f"Score:             {verdict_line(score)}",
        f"Less-lethal first: {_less_lethal(score)}",
        *(
            [f"Left out:          {left_out(score.weapons_left_out)}"]
            if score.weapons_left_out
            else []
        ),
        "Reaction time:     "
        + (
            "n/a"
            if score.reaction_time_s is None
            else f"{score.reaction_time_s:.2f} s"
            " exposed to the threat before the first appropriate response"
        ),
    ]
    if score.transition_time_s is not None:
        lines.append(f"TASER to firearm:  {score.transition_time_s:.2f} s")
    if score.deployments:
        lines.append("Probe deployments:")
        for d in score.deployments:
            spread = "n/a" if d["spread_in"] is None else f"{d['spread_in']:.1f} in"
            lines.append(f"  {d['t']:6.2f} s  spread {spread:>8}  {d['effect']}: {d['reason']}")
    if score.hits:
        lines.append("Hits:")
        for h in score.hits:
            zone = f" ({h.zone} zone)" if h.zone else ""
            lines.append(f"  {h.t:6.2f} s  {h.weapon:<8} {h.subject}: {h.region}{zone}")
    lines.append(
        f"Rounds fired:      {score.rounds_fired} ({score.rounds_on_target} on target,"
        f" {score.rounds_after_threat} after the threat ended)"
    )
    for name, subject in score.subjects.items():
        parts = []
        if subject.get("reaction_times_s"):
            parts.append("reaction " + ", ".join(f"{r:.2f} s" for r in subject["reaction_times_s"]))
        if subject.get("transition_s") is not None:
            parts.append(f"TASER to firearm {subject['transition_s']:.2f} s")
        if subject.get("force_after_threat_s"):
            delays = ", ".join(f"{d:.2f} s" for d in subject["force_after_threat_s"])
            parts.append(f"force after the threat ended at +{delays}")
        if parts:
            lines.append(f"Subject {name}: " + "; ".join(parts))
        if subject.get("taser_cycles"):
            lines.append(
                f"TASER cycles:      {name}: {subject['taser_cycles']} cycle(s),"
                f" {subject['taser_exposure_s']:.1f} s of exposure,"
                f" {subject['taser_cycles_after_threat']} after the threat ended"
                + (f", {subject['drive_stuns']} drive-stun(s)" if subject["drive_stuns"] else "")
            )
    if score.taser_cycles_note:
        lines.append(f"TASER cycles:      {score.taser_cycles_note}")
    timelines = [
        f"{name}: " + ", ".join(f"{moment} {t:.2f} s" for t, moment in subject["timeline"])
        for name, subject in score.subjects.items()
        if subject.get("timeline")
    ]
    if timelines:
        lines.append("Threat timeline:   " + "; ".join(timelines))
    for gap in score.not_judged:
        lines.append(f"Not judged:        {gap}")
    if score.speech.get("acts"):
        acts = ", ".join(f"{act} x{n}" for act, n in score.speech["acts"].items())
        talk = f"; {score.speech['talk_s']:.1f} s talking" if score.speech["talk_s"] else ""
        lines.append(f"Speech heard:      {acts}{talk}")
    if score.corrections:
        lines.append("Speech corrections (rescored with them; the log is unchanged):")
        for c in score.corrections:
            why = f" ({c['reason']})" if c["reason"] else ""
            lines.append(
                f"  {correction_when(c):>13}  {correction_words(c)}: {correction_change(c)}"
                f" by {c['by']}, {c['made']}{why}"
            )
    # Replaced by a later correction of the same act: history, not a fault (rc17 #6).
    history = earlier_corrections(score.corrections_not_applied)
    unfit = [c for c in score.corrections_not_applied if not c.get("superseded")]
    if history:
        lines.append("Earlier speech corrections (replaced by a later one of the same act):")
        for c in history:
            lines.append(
                f"  {c['when']:>13}  {c['words']}: {c['was']} -> {c['act']}"
                f" by {c['by']}, {c['made']}"
            )
    if unfit:
        lines.append("Speech corrections not applied (each says why):")
        for c in unfit:
            lines.append(
                f"  {correction_when(c):>13}  {correction_words(c)}: {c['was']} -> {c['act']}"
                f" by {c['by']}: {c['why']}"
            )
    if score.debrief:
        lines.append("Debrief:")
        for a in score.debrief:
            said = a["answer"] or "(no answer)"
            how = "" if a["how"] == "typed" else f"  [{a['how']}]"
            lines.append(f"  {a['text']}\n    {said}{how}")
    lines.append("Credits and findings:" if score.findings else "Findings: none")
    for f in score.findings:
        points = f"{f.points:+.0f}" if f.points else ""
        mark, override = finding_mark(score, f)
        lines.append(f"  {mark} {f.t:6.2f} s  {f.rule:<11} {points:>5}  {f.message}{override}")
    return "\n".join(lines)


def drill_file_label(drill: str, sha256: str) -> str:
    """A drill as the records list it (range/records/store.py `drill_label`): its id, and for
    an edited copy of a built-in drill `phone-draw-v1 (modified, sha256 1a2b3c4d5e6f)`."""
    from range.records.store import content_label

    return content_label("drill", drill, sha256)[0]


def _who(officer: str, name: str) -> str:
    """Who played a run, from its `run_started` officer (a script's id, "live", or with
    --voice the recording's words and the script's actions) and officer name."""
    named = "" if name in ("", "scripted") else name
    if officer == "live":
        return f"officer {named or '(unnamed)'} (live)"
    if "actions scripted by" in officer:  # --voice: the words came from a recording
        return officer + (f", as {named} (SIMULATED)" if named else "")
    return f"officer {officer}" + (f", as {named} (SIMULATED)" if named else "")


def run_who(started: Mapping[str, Any]) -> str:
    """Who played a run, from its `run_started`: `officer phone-draw-correct-v1` (a script),
    `officer Ofc. Rivera (live)`, with a script's stand-in name marked SIMULATED."""
    return _who(str(started.get("officer") or ""), str(started.get("officer_name") or ""))


def run_header(run_dir: Path, records: list[LogRecord]) -> str:
    """Which saved run a score is of: its folder, drill (flagged when an edited copy of a
    built-in one), seed and who played it; or that the log does not say (empty, or cut
    before its `run_started`)."""
    started = run_started(records)
    if started is None:
        said = "is empty" if not records else "does not start with run_started"
        return f"Run {run_dir}: its event log {said}: its drill, seed and officer are not known"
    label = drill_file_label(str(started.get("drill", "")), str(started.get("drill_sha256") or ""))
    who = _who(str(started.get("officer") or ""), str(started.get("officer_name") or ""))
    return f"Run {run_dir}: {label}, {who}, seed {started.get('seed')}"


def format_summary(result: RunResult) -> str:
    config = result.config
    # With --voice the words were the recording's: officer_id says so in its own words.
    who = config.officer_id if config.voice is not None else f"officer {config.officer_id}"
    label = drill_file_label(config.drill.id, result.drill_sha256)
    head = f"{config.drill.title} [{label}], {who}, seed {config.seed}"
    lines = [
        head,
        # The reason after a colon, not in brackets: it often has its own ("stopped by the
        # range master (Ctrl-C)").
        f"Run:               {result.state.value} at {result.duration_s:.2f} s:"
        f" {result.end_reason}",
        *calibration_lines(result.records),
        *suspension_lines(result.records),
        format_score(result.score),
    ]
    if result.run_dir is not None:
        lines.extend(saved_lines(result.run_dir, result.records))
    return "\n".join(lines)


def calibration_lines(records: list[LogRecord]) -> list[str]:
    """Each device the run used without a valid calibration, on a range master's override
    (run_started `calibration`): a run on an uncalibrated replica never reads as a calibrated
    one (nu20 #6). [] when every device was calibrated, or the run had no gate."""
    from range.calibration.used import uncalibrated

    return [f"UNCALIBRATED:      {said}" for said in uncalibrated(records)]


def suspension_lines(records: list[LogRecord]) -> list[str]:
    """Each time a device fault suspended the run (run_suspended), and whether it resumed
    (device_reattached, run_resumed): the drill's clock stands still meanwhile, so both carry
    the same run time. A summary said nothing of it; only the log did."""
    lines: list[str] = []
    suspended: LogRecord | None = None
    reattached: list[str] = []
    for record in records:
        if record.kind == "run_suspended":
            suspended, reattached = record, []
        elif record.kind == "device_reattached" and suspended is not None:
            reattached.append(f"{record.data.get('weapon')} {record.data.get('serial')}")
        elif record.kind == "run_resumed" and suspended is not None:
            again = f" once {', '.join(reattached)} was re-attached" if reattached else ""
            lines.append(
                f"Suspended:         at {suspended.t:.2f} s ({suspended.data.get('reason')}),"
                f" resumed{again}; the drill clock stood still meanwhile"
            )
            suspended = None
    if suspended is not None:
        lines.append(
            f"Suspended:         at {suspended.t:.2f} s ({suspended.data.get('reason')}),"
            " never resumed"
        )
    return lines


# What a reviewer finds in a run folder, by file name: said after a run, beside each file.
_KEPT = {
    "events.jsonl": "the event log: what happened, scored and replayed from it",
    "result.json": "the result and its score as run",
    "drill.toml": "the drill file as run",
    "officer.toml": "the officer script file as run (--sim FILE)",
    "shooter.toml": "the shooter file as fired (--shooter FILE)",
    "officer-voice.wav": "the officer's voice as heard: the clip of every act heard",
    "officer-voice.flac": "the officer's voice as heard: the clip of every act heard",
    "officer-voice.ogg": "the officer's voice as heard: the clip of every act heard",
    "phrasebook.toml": "the agency phrase book the officer was heard with",
    "policy.toml": "the policy the run was judged by",
    "sound.wav": "the run's soundtrack: subjects' voices, shots, the TASER's arc",
    "report.html": "the review page",
}


def earlier_corrections(not_applied: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The corrections replaced by a later one of the same act (`Score.corrections_not_applied`
    marked `superseded`), each with its `when` (`correction_when`) and `words`
    (`correction_words`): what `score`, the report and the debrief list, each in its own way."""
    return [
        c | {"when": correction_when(c), "words": correction_words(c)}
        for c in not_applied
        if c.get("superseded")
    ]


def correction_when(c: dict[str, Any]) -> str:
    """When a listed correction's act was said, as the score's "What was heard", the console's
    debrief and `openrange speech correct` give it: its words' span (`1.38-2.13 s`), a mark's
    moment, or, in a listing that has neither (an older score's), the act's decision time."""
    start, end = c.get("start_s"), c.get("end_s")
    if isinstance(start, int | float) and isinstance(end, int | float):
        if c.get("marked"):
            return f"{start:.2f} s"
        return span_text(start, end)
    return f"{float(c['utterance_t']):.2f} s"


def correction_words(c: dict[str, Any]) -> str:
    """What a listed correction's act was heard in: the act's own words with the utterance
    beside them where they differ, as `openrange speech correct` quotes them."""
    if c.get("added"):  # the recogniser heard nothing there: no words of its to quote
        return "(not heard by the recogniser)"
    phrase = c.get("phrase")
    return f"{phrase!r} (in {c['text']!r})" if phrase and phrase != c["text"] else repr(c["text"])


def correction_change(c: dict[str, Any]) -> str:
    """A listed correction's change, in `openrange speech correct`'s words: an undo (its act
    is the act heard, `undoes` the correction it puts back from) is said as one, never as
    'X -> X' (nu17c #11)."""
    undoes = c.get("undoes")
    if c.get("added"):  # an act the recogniser missed, added in review (or taken back)
        if undoes:
            return f"{undoes['act']} (added by {undoes['by']}) -> taken back"
        return f"{c['act']} added" if c["act"] != "none" else "taken back"
    if undoes:
        return (
            f"{undoes['act']} ({undoes['by']}'s correction) -> put back to the act heard"
            f" ({c['was']})"
        )
    return f"{c['was']} -> {c['act']}"


def _sound_words(records: list[LogRecord]) -> str:
    """What a run's sound.wav holds: a `--voice` run's soundtrack has the officer's recorded
    words mixed in (run time is the recording's time); a live run's microphone is kept apart,
    in officer-voice.wav, and the line says so (nu21 #5)."""
    started = next((r.data for r in records if r.kind == "run_started"), {})
    voice = started.get("voice_file")
    if voice and started.get("officer") == "live":
        return f"{_KEPT['sound.wav']} (the officer's own words are in {voice})"
    if voice:
        return (
            "the run's soundtrack: the officer's recorded words (centred), subjects' voices,"
            " shots, the TASER's arc"
        )
    return _KEPT["sound.wav"]


def saved_lines(run_dir: Path, records: list[LogRecord]) -> list[str]:
    """Where the run was saved and what its folder holds (each file and what it is for, as
    it is there now: the soundtrack is written after the run), then how to review, correct
    and rescore it."""
    lines = [f"Saved:             {run_dir}/"]
    kept: list[tuple[str, str]] = []
    for path in sorted(run_dir.iterdir()):
        if path.name.startswith("speech-corrections-"):
            what = "an instructor's speech corrections"
        elif path.name.startswith("debrief-") and path.is_file():  # debrief-<question>.wav
            question = path.stem.removeprefix("debrief-")
            what = f"the officer's spoken answer to debrief question {question}"
        elif path.name == "sound.wav" and path.is_file():
            what = _sound_words(records)
        elif path.is_file():
            what = _KEPT.get(path.name, "")
        else:
            continue
        kept.append((path.name, what))
    # The names' column as wide as the longest name kept (debrief-got_through.wav overran 22).
    width = column_width((name for name, _ in kept), 22)
    lines += [f"  {pad(name, width)} {what}".rstrip() for name, what in kept]
    lines.append(f"Review with:       openrange report {run_dir}")
    if any(r.kind == "officer_spoke" for r in records):
        lines.append(
            f"Correct an act:    openrange speech correct {run_dir} --at T_S --act ACT --by NAME"
        )
    lines.append(f"Rescore with:      openrange score {run_dir}")
    return lines


def format_detection(rows: list[Detection]) -> str:
    """Per officer: shoot / don't-shoot as signal detection."""

    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    header = ("officer", "shoot runs", "hit rate", "no-shoot", "false alarms", "d-prime")
    # The officer column as wide as its longest name ("Ofc. Rivera #4411 (SIMULATED)"), in
    # terminal columns: "Ofc. Zoë 李 🚓" is two wider than its length (nu23 #9).
    widths = (column_width((r.officer for r in rows), 24), 10, 9, 9, 13, 8)
    lines = [
        " ".join(
            pad(h, w, "<" if i == 0 else ">")
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    for r in rows:
        d = "n/a" if r.d_prime is None else f"{r.d_prime:.2f}"
        cells = (
            r.officer,
            r.shoot_runs,
            rate(r.hit_rate),
            r.no_shoot_runs,
            rate(r.false_alarm_rate),
            d,
        )
        lines.append(
            " ".join(
                pad(c, w, "<" if i == 0 else ">")
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    return "\n".join(lines)


def format_attempt(score: AttemptScore, simulated: bool = False) -> str:
    """A qualification attempt's score, stage by stage, and the verdict with its reasons;
    `simulated` (a scripted shooter fired it): the verdict says it is no qualification."""
    from drills.course import stage_label

    labels = [stage_label(i, stage.name) for i, stage in enumerate(score.stages)]
    # The columns line up whatever a stage's name (a long one widens the column, nu19 #12).
    width = column_width(labels, 46)
    lines = [
        f"  {pad(label, width)} {stage.points:4} points  {stage.hits:3} hits"
        + (f"  {stage.late} late" if stage.late else "")
        for label, stage in zip(labels, score.stages, strict=True)
    ]
    verdict = {Outcome.PASS: "QUALIFIED", Outcome.FAIL: "NOT QUALIFIED"}.get(
        score.outcome, "INCOMPLETE"
    )
    if simulated and verdict == "INCOMPLETE":  # unfinished, whoever fired it
        verdict = "INCOMPLETE (simulated), not a qualification"
    elif simulated:
        verdict = f"SIMULATED (would be {verdict}), not a qualification"
    lines.append(
        f"{verdict}: {score.points}/{score.max_points} points, {score.hits} hits"
        + (f" ({'; '.join(score.reasons)})" if score.reasons else "")
    )
    return "\n".join(lines)
