"""nu21 #1's second half: where the recogniser heard nothing, the instructor credits the act the
officer's words were, in review (`openrange speech correct RUN --add --from S --to E --act X`):
kept in the corrections file, scored as a live mark at E, chained into the records, listed by
`score` and the report, taken back with `--at T --act none`. A real `--voice` run (the
recogniser, pocketsphinx, runs on the recording and hears nothing), in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_rules import end, phase, spoke, start, taser
from test_speech_corrections import write_run

from range.cli.main import main
from range.records.store import Records
from range.runs.runlog import read_events
from scoring.corrections import Correction, apply_corrections, unapplied, utterances


@pytest.fixture(scope="module")
def unheard(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """knife-approach-v1 seed 7 with an officer's recording the recogniser hears nothing in
    (the TASER at 3.41 s, no act heard before it), recorded for badge 4411."""
    from range.voice.audio import write_wav

    tmp = tmp_path_factory.mktemp("f21c")
    db = f"sqlite:///{tmp / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    voice = write_wav(tmp / "quiet.wav", np.zeros(6 * 16_000, dtype=np.int16))
    args = ["drill", "run", "knife-approach-v1", "--seed", "7", "--voice", str(voice)]
    assert main([*args, "--badge", "4411", "--db", db, "--runs-dir", str(tmp / "runs")]) == 0
    (run,) = (tmp / "runs").iterdir()
    return {"run": run, "db": db}


def _score(run: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["score", str(run), "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def _verbal_01(score: dict[str, Any]) -> list[str]:
    return [f["kind"] for f in score["findings"] if f["rule"] == "VERBAL-01"]


def test_an_added_act_credits_verbal_01_rescores_the_record_and_is_taken_back(
    unheard: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run, db = unheard["run"], unheard["db"]
    assert utterances(read_events(run)) == []  # the recogniser heard nothing
    before = _score(run, capsys)
    assert _verbal_01(before) == ["finding"]  # force with no verbal command first
    base = ["speech", "correct", str(run), "--db", db, "--by", "Sgt Lee"]

    # --at names nothing heard, and says how to credit a missed act.
    capsys.readouterr()
    assert main([*base, "--at", "1.5", "--act", "command.drop_weapon"]) == 2
    assert "--add --from S --to E" in capsys.readouterr().err

    add = [*base, "--add", "--from", "1.0", "--to", "2.35", "--act", "command.drop_weapon"]
    assert main([*add, "--reason", "audible in sound.wav"]) == 0
    said = capsys.readouterr().out
    assert "added command.drop_weapon at 1.00-2.35 s" in said
    now = _score(run, capsys)
    assert _verbal_01(now) == ["credit"]
    assert now["score"] == before["score"] + 10
    assert f"drill run 1 in the records rescored: {before['score']:g} -> {now['score']:g}" in said
    (listed,) = now["corrections"]
    assert listed["added"] and listed["act"] == "command.drop_weapon"
    assert (listed["start_s"], listed["end_s"], listed["was"]) == (1.0, 2.35, "none")
    assert main(["score", str(run)]) == 0
    assert "command.drop_weapon added by Sgt Lee" in capsys.readouterr().out

    # Chained into the records as an amendment, which verifies; the report lists it.
    with Records.open(db, create=False) as records:
        row = records.drill_run(1)
        assert row["score"] == now["score"]
        from range.cli.corrections import recorded_corrections

        chained = recorded_corrections(run, records)
    assert chained is not None and [c.added for c in chained.corrections] == [True]
    assert main(["records", "verify", "--db", db]) == 0
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "added by Sgt Lee" in page and "(not heard by the recogniser)" in page
    from range.console.pages import debrief

    d = debrief(run, False, chained)
    assert [(line["when"], line["act"], line["source"]) for line in d["officer_said"]] == [
        ("1.00-2.35 s", "command.drop_weapon", "instructor (added by Sgt Lee, in review)")
    ]

    # Refusals name what is wrong, and keep nothing.
    kept = len(json.loads(next(run.glob("speech-corrections-*.json")).read_text())["corrections"])
    refused = {
        "--to 2: the words must end after they begin (--from 3)": ["--from", "3", "--to", "2"],
        "--to 99: after the run's end": ["--from", "3", "--to", "99"],
        "command.drop_weapon was added at 1.00-2.35 s by Sgt Lee: change it with --at 1.68": [
            *("--from", "2", "--to", "3"),
        ],
    }
    for why, span in refused.items():
        assert main([*base, "--add", *span, "--act", "command.stop"]) == 2
        assert why in capsys.readouterr().err
    assert main([*base, "--add", "--from", "3", "--to", "4", "--act", "command.bogus"]) == 2
    assert "--act command.bogus: not an act of this run's phrase book" in capsys.readouterr().err
    assert main([*base, "--add", "--from", "3", "--to", "4", "--act", "none"]) == 2
    assert "--act none: nothing to add" in capsys.readouterr().err
    assert main([*base, "--add", "--at", "3", "--act", "command.stop"]) == 2
    assert "--add names the words by --from and --to" in capsys.readouterr().err
    assert main([*base, "--add", "--from", "3", "--act", "command.stop"]) == 2
    assert "--add needs --from S and --to E" in capsys.readouterr().err
    after = json.loads(next(run.glob("speech-corrections-*.json")).read_text())
    assert len(after["corrections"]) == kept and after["version"] == 2

    # Taken back as other corrections are undone: the run scores as heard again.
    assert main([*base, "--at", "1.5", "--act", "none"]) == 0
    assert "took back command.drop_weapon (added by Sgt Lee)" in capsys.readouterr().out
    back = _score(run, capsys)
    assert _verbal_01(back) == ["finding"] and back["score"] == before["score"]
    with Records.open(db, create=False) as records:
        assert records.drill_run(1)["score"] == before["score"]
    assert main(["records", "verify", "--db", db]) == 0


def test_an_added_act_over_heard_words_is_refused_and_never_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Words the recogniser heard are corrected with --at; an added act may not cover them,
    # and one hand-written over them is not applied (it would count the words twice).
    records = [*start(), phase(0, "active_resistance"), spoke(1.2, "command.stop", "stop")]
    run = write_run(tmp_path / "run", [*records, taser(2.0), end(3)])
    heard = utterances(read_events(run))[0]
    assert main(["speech", "correct", str(run), "--add", "--from", str(heard.data["start_s"]),
                 "--to", "2.5", "--act", "identify", "--by", "X"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "the log heard command.stop at" in err and "correct it with --at" in err
    over = Correction(
        at_s=0.5, utterance_t=1.5, text="", was="none", act="identify", by="X",
        made="2026-12-01T23:00:00+00:00", added=True, start_s=0.5, end_s=1.5,
    )  # fmt: skip
    log = read_events(run)
    ((_, why),) = unapplied(log, [over])
    assert "the log heard command.stop" in why and "inside its span" in why
    clear = over.model_copy(update={"utterance_t": 2.5, "start_s": 2.2, "end_s": 2.5})
    assert unapplied(log, [clear]) == []
    marks = [r for r in apply_corrections(log, [clear]) if r.kind == "instructor_command"]
    assert [(m.t, m.data["act"], m.data["added"]) for m in marks] == [(2.5, "identify", True)]
