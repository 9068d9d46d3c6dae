"""An instructor corrects a misheard speech act (issue 17 point 2): kept beside the run in a
file named after the log's hash, the log never edited; `score` rescores with it and lists it;
the report lists what was heard, each act and its correction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_rules import end, phase, rec, spoke, start, taser

from drills.log import LogRecord
from range.cli.main import main
from range.runs.runlog import EVENTS
from scoring.corrections import (
    Correction,
    CorrectionError,
    apply_corrections,
    corrections_path,
    heard_as,
    log_sha256,
    read_corrections,
)


def write_run(run: Path, records: list[LogRecord]) -> Path:
    run.mkdir()
    (run / EVENTS).write_text("".join(json.dumps(r.as_json()) + "\n" for r in records))
    return run


def record_run(run: Path, db: str, **result: object) -> int:
    """Keep the hand-built run in folder `run` in the records store `db` as badge 4411's drill
    run (officer J. Rivera added), scored from its log; `result`: more of its result's keys
    (`state`, `end_reason`). Returns its drill run number."""
    from range.records.store import Records
    from range.runs.runlog import read_events
    from scoring.policy import default_policy
    from scoring.score import score_run

    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        score = score_run(read_events(run), default_policy())
        kept = {
            "drill": "knife-approach-v1",
            "seed": 7,
            "openrange_version": "0",
            **result,
            "score": score.as_json(),
            "run_dir": str(run),
        }
        return records.add_drill_run("4411", kept)


def misheard_warning() -> list[LogRecord]:
    """ "Taser, taser!" heard as "stop" before a TASER on an actively resisting subject."""
    return [
        *start(),
        phase(0, "active_resistance"),
        spoke(0.5, "identify", "police", talk_s=0.3),
        spoke(1.2, "command.stop", "stop", talk_s=0.5),
        taser(2.0),
        end(3),
    ]


def score_json(run: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["score", str(run), "--json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def rules(score: dict[str, object], rule: str) -> list[str]:
    findings = score["findings"]
    assert isinstance(findings, list)
    return [f["kind"] for f in findings if f["rule"] == rule]


def test_a_correction_is_kept_beside_the_log_and_the_run_rescores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "run", misheard_warning())
    log_before = (run / EVENTS).read_bytes()
    assert rules(score_json(run, capsys), "CEW-02") == ["finding"]

    argv = ["speech", "correct", str(run), "--at", "0.9", "--act", "warning.taser"]
    assert main([*argv, "--by", "Sgt Lee", "--reason", "said taser taser"]) == 0
    said = capsys.readouterr().out
    sha = log_sha256(run / EVENTS)
    kept = run / f"speech-corrections-{sha[:16]}.json"
    assert said.startswith("corrected 0.70-1.20 s 'stop': command.stop -> warning.taser by Sgt Lee")
    assert kept.is_file() and (run / EVENTS).read_bytes() == log_before  # the log untouched

    score = score_json(run, capsys)
    assert rules(score, "CEW-02") == ["credit"]
    speech: dict[str, Any] = json.loads(json.dumps(score["speech"]))
    assert [(h["act"], h["source"]) for h in speech.pop("heard")] == [
        ("identify", "recogniser"),
        ("warning.taser", "recogniser"),
    ]
    assert speech == {
        "acts": {"identify": 1, "warning.taser": 1},
        "rapport": 0,
        "questions": 0,
        "shouted_calming": 0,
        "talk_s": 0.8,
        "marked": 0,
    }
    (correction,) = score["corrections"]  # type: ignore[misc]
    assert (correction["utterance_t"], correction["was"], correction["act"]) == (
        1.2,
        "command.stop",
        "warning.taser",
    )
    assert (correction["by"], correction["reason"]) == ("Sgt Lee", "said taser taser")

    assert main(["score", str(run)]) == 0
    text = capsys.readouterr().out
    assert "Speech corrections (rescored with them; the log is unchanged):" in text
    assert "1.20 s  'stop': command.stop -> warning.taser by Sgt Lee" in text


def test_an_at_that_matches_no_utterance_is_refused_in_one_named_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "run", misheard_warning())
    argv = ["speech", "correct", str(run), "--at", "1.6", "--act", "warning.taser", "--by", "Lee"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "openrange: no utterance at 1.60 s (utterances: 0.20-0.50 s, 0.70-1.20 s);"
        " an act the recogniser missed is credited with --add --from S --to E\n"
    )
    assert list(run.glob("speech-corrections-*")) == []
    bad_act = ["speech", "correct", str(run), "--at", "1.0", "--act", "shout", "--by", "Lee"]
    assert main(bad_act) == 2
    assert capsys.readouterr().err == "openrange: --act: 'shout' is not a speech act or 'none'\n"


def test_several_acts_in_one_utterance_need_was(tmp_path: Path) -> None:
    both = [spoke(1.2, "identify", "police stop"), spoke(1.2, "command.stop", "police stop")]
    records = [*start(), phase(0, "active_resistance"), *both, end(3)]
    from scoring.corrections import find_utterance

    # nu17c #17: "2 utterances" for two acts of one utterance.
    with pytest.raises(
        CorrectionError, match=r"^2 acts heard at 1.00 s \(command.stop, identify\)"
    ):
        find_utterance(records, 1.0, None)
    assert find_utterance(records, 1.0, "command.stop").data["act"] == "command.stop"


def test_none_strikes_a_false_act_and_the_latest_correction_wins() -> None:
    records = misheard_warning()

    def fix(act: str) -> Correction:
        return Correction(
            at_s=1.0,
            utterance_t=1.2,
            text="stop",
            was="command.stop",
            act=act,
            by="Lee",
            made="2026-11-30T23:50:00+00:00",
        )

    struck = apply_corrections(records, [fix("command.get_down"), fix("none")])
    assert [r.data["act"] for r in struck if r.kind == "officer_spoke"] == ["identify"]
    redone = apply_corrections(records, [fix("none"), fix("command.get_down")])
    assert [r.data["act"] for r in redone if r.kind == "officer_spoke"] == [
        "identify",
        "command.get_down",
    ]
    assert records[3].data["act"] == "command.stop"  # the records given are not changed


def test_one_lookup_gives_the_act_a_correction_names_its_words_and_span() -> None:
    """rv20b #1: score's listing and `speech correct`'s notes read what the log has of a
    correction's act from one lookup, `heard_as`: the act's own words where it was heard inside
    a longer utterance, and when they were said; a live mark's moment; nothing where the log
    does not name it (the correction's t, its `was` or its mark-ness differ)."""
    said = spoke(4.0, "command.drop_weapon", "sir drop the knife now", talk_s=1.5)
    said = LogRecord(said.t, said.kind, {**said.data, "phrase": "drop the knife"})
    mark = rec(6.0, "instructor_command", command="mark", by="inst", act="command.stop")
    heard = [said, mark]

    def fix(t: float, was: str, marked: bool = False) -> Correction:
        return Correction(
            at_s=t,
            utterance_t=t,
            text="x",
            was=was,
            act="none",
            by="Lee",
            marked=marked,
            made="2026-11-30T23:50:00+00:00",
        )

    assert heard_as(fix(4.0, "command.drop_weapon"), heard) == {
        "start_s": 2.5,
        "end_s": 4.0,
        "phrase": "drop the knife",
    }
    assert heard_as(fix(6.0, "command.stop", marked=True), heard) == {"start_s": 6.0, "end_s": 6.0}
    assert heard_as(fix(6.0, "command.stop"), heard) == {}  # a mark, not an utterance
    assert heard_as(fix(4.0, "command.stop"), heard) == {}
    assert heard_as(fix(4.0, "command.drop_weapon"), []) == {}


def test_a_corrections_file_of_another_log_is_refused_by_name(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", misheard_warning())
    sha = log_sha256(run / EVENTS)
    other = "0" * 64
    path = corrections_path(run, sha)
    path.write_text(json.dumps({"version": 1, "log_sha256": other, "corrections": []}))
    with pytest.raises(CorrectionError) as caught:
        read_corrections(run, sha)
    assert str(caught.value) == f"{path}: corrects another log (sha256 {other[:16]})"


def test_the_report_lists_what_was_heard_with_each_act_and_its_correction() -> None:
    from range.review.report import _heard

    records = misheard_warning()
    fix = Correction(
        at_s=1.0,
        utterance_t=1.2,
        text="stop",
        was="command.stop",
        act="warning.taser",
        by="Sgt Lee",
        reason="said taser",
        made="2026-11-30T23:50:00+00:00",
    )
    table = _heard(records, [fix])
    assert (
        "<td>0.20-0.50 s</td><td>police</td><td>identify</td><td>0.90</td>"
        "<td>recogniser</td><td></td>"
    ) in table
    assert (
        "<td>0.70-1.20 s</td><td>stop</td><td>command.stop</td><td>0.90</td><td>recogniser</td>"
        "<td>warning.taser by Sgt Lee, 2026-11-30T23:50:00+00:00 (said taser)</td>"
    ) in table
    assert "No speech was heard" in _heard(records[:2], [])


def test_the_report_s_clip_links_resolve_from_where_it_is_written(tmp_path: Path) -> None:
    from dataclasses import replace

    from range.review.report import _heard

    run = tmp_path / "runs" / "r1"
    records = [
        replace(r, data={**r.data, "clip": "officer-voice.wav"}) if r.kind == "officer_spoke" else r
        for r in misheard_warning()
    ]
    inside = _heard(records, [], run, run)
    assert "<a href='officer-voice.wav#t=0.7,1.2'>audio</a>" in inside  # the utterance's span
    elsewhere = _heard(records, [], run, tmp_path / "elsewhere")
    assert "<a href='../runs/r1/officer-voice.wav#t=0.2,0.5'>audio</a>" in elsewhere
    live = [replace(records[0], data={**records[0].data, "officer": "live"}), *records[1:]]
    assert "<a href='../runs/r1/officer-voice.wav'>" in _heard(live, [], run, tmp_path / "x")


def test_a_saved_run_s_report_and_score_use_the_correction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real run (simulated), with what the officer said added to its log as the live path
    writes it; the instructor corrects one act; the report shows it and the score rescored."""
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.review.report import write_report
    from range.runs.drill import RunConfig, run_drill

    result = run_drill(
        RunConfig(
            find_drill("knife-approach-v1"), find_officer("taser-first-v1"), 3, runs_dir=tmp_path
        )
    )
    run = result.run_dir
    assert run is not None
    lines = (run / EVENTS).read_text().splitlines()
    heard = [
        spoke(0.4, "identify", "police", 0.3),
        spoke(0.9, "command.stop", "stop", 0.4),
        # An act the recogniser missed, marked live on the console by the instructor.
        rec(0.9, "instructor_command", command="mark", by="Sgt Ray", act="rapport.help"),
    ]
    at = next(i for i, line in enumerate(lines) if json.loads(line)["t"] > 0.9)
    lines[at:at] = [json.dumps(r.as_json()) for r in heard]
    (run / EVENTS).write_text("\n".join(lines) + "\n")
    # As the live path would have written it: result.json keeps the log's hash as it is.
    kept = json.loads((run / "result.json").read_text())
    (run / "result.json").write_text(json.dumps(kept | {"log_sha256": log_sha256(run / EVENTS)}))
    argv = ["speech", "correct", str(run), "--at", "0.7", "--act", "command.drop_weapon"]
    assert main([*argv, "--by", "Sgt Lee"]) == 0
    capsys.readouterr()
    page = write_report(run).read_text()
    assert "<h2>What was heard</h2>" in page
    assert "<td>0.50-0.90 s</td><td>stop</td><td>command.stop</td>" in page
    assert "<td>command.drop_weapon by Sgt Lee, " in page
    assert "<td>rapport.help</td><td></td><td>instructor (Sgt Ray, marked live)</td>" in page
    score = score_json(run, capsys)
    assert score["speech"]["acts"]["rapport.help"] == 1  # type: ignore[index]
    # The script's own "Police! Drop the knife!" and the corrected "stop".
    assert score["speech"]["acts"]["command.drop_weapon"] == 2  # type: ignore[index]
    assert "command.stop" not in score["speech"]["acts"]  # type: ignore[index,operator]
    # Corrected again: Sgt Lee's correction is history, kept on the page below what was heard
    # as `score` lists it (rc17 #6), not a warning.
    argv[-1] = "command.show_hands"
    assert main([*argv, "--by", "Sgt Kay"]) == 0
    capsys.readouterr()
    page = write_report(run).read_text()
    assert "<td>command.show_hands by Sgt Kay, " in page
    heard_part, history = page.split("What was heard")[1].split("Earlier corrections")
    # The one warning: played without a badge, its corrections are checked against no
    # records (rc19 #7); the earlier correction is history, not a warning.
    (warned,) = heard_part.split("class='warning'>")[1:]
    assert "not checked against the records: the run was played without a badge" in warned
    assert "0.90 s &#x27;stop&#x27;: command.stop &rarr; command.drop_weapon by Sgt Lee" in history


def missed_warning_marked() -> list[LogRecord]:
    """ "Taser, taser!" missed by the recogniser, marked live by the instructor on the console
    (`instructor_command` "mark", as range/console/lane.py logs it), before a TASER."""
    return [
        *start(),
        phase(0, "active_resistance"),
        spoke(0.5, "identify", "police", talk_s=0.3),
        rec(
            1.2,
            "instructor_command",
            command="mark",
            by="Sgt Lee",
            act="warning.taser",
            text="taser taser",
        ),
        taser(2.0),
        end(3),
    ]


def test_an_act_the_instructor_marked_live_is_scored_as_heard_from_the_instructor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "run", missed_warning_marked())
    score = score_json(run, capsys)
    assert rules(score, "CEW-02") == ["credit"]  # warned before the TASER: the mark counts
    speech: dict[str, Any] = json.loads(json.dumps(score["speech"]))
    assert speech["acts"] == {"identify": 1, "warning.taser": 1}
    assert speech["marked"] == 1
    assert speech["heard"][1] == {
        "t": 1.2,
        "act": "warning.taser",
        "source": "instructor",
        "by": "Sgt Lee",
        "text": "taser taser",
    }
    # Without the mark, the same run is a missed warning.
    unmarked = [r for r in missed_warning_marked() if r.kind != "instructor_command"]
    assert rules(score_json(write_run(tmp_path / "bare", unmarked), capsys), "CEW-02") == [
        "finding"
    ]


def test_a_mark_that_is_no_act_is_not_scored() -> None:
    from scoring.policy import default_policy
    from scoring.score import score_run

    log = [r for r in missed_warning_marked()]
    log[3] = LogRecord(1.2, "instructor_command", {**log[3].data, "act": "tase them"})
    assert score_run(log, default_policy()).speech["acts"] == {"identify": 1}


def test_the_report_shows_a_live_mark_as_heard_from_the_instructor() -> None:
    from range.review.report import _heard

    page = _heard(missed_warning_marked(), [])
    assert "<td>1.20 s</td><td>taser taser</td><td>warning.taser</td>" in page
    assert "instructor (Sgt Lee, marked live)" in page
    assert "<td>police</td><td>identify</td><td>0.90</td><td>recogniser</td>" in page


def test_a_forged_corrections_file_on_a_run_without_a_badge_is_said_unchecked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc19 #7: a run played without --badge has no records to check its corrections file
    against; one forged by hand (its act and who made it changed) was applied with nothing
    said. `score` now says, in one line, that they are not checked (the report and the
    debrief say the same line: test_a_saved_run_s_report_and_score_use_the_correction)."""
    run = write_run(tmp_path / "run", misheard_warning())
    argv = ["speech", "correct", str(run), "--at", "1.0", "--act", "warning.taser"]
    assert main([*argv, "--by", "Sgt Lee"]) == 0
    (kept,) = run.glob("speech-corrections-*.json")
    body = json.loads(kept.read_text())
    body["corrections"][0] |= {"act": "warning.deadly_force", "by": "Chief Z"}
    kept.write_text(json.dumps(body, indent=2) + "\n")
    capsys.readouterr()
    line = (
        f"warning: {kept}: not checked against the records: the run was played without a"
        " badge, so no records hold it; its 1 correction(s) are applied as the file has them"
    )
    assert main(["score", str(run)]) == 0
    out = capsys.readouterr()
    assert out.err == f"openrange: {line}\n"
    assert "warning.deadly_force by Chief Z" in out.out  # applied, as nothing can say otherwise
    # A run played for the records (its log names the badge) is checked by them: no such line.
    started = misheard_warning()
    started[0].data["badge"] = "4411"
    badged = write_run(tmp_path / "badged", started)
    argv[2] = str(badged)
    assert main([*argv, "--by", "Sgt Lee"]) == 0
    capsys.readouterr()
    assert main(["score", str(badged)]) == 0
    assert "not checked against the records" not in capsys.readouterr().err
