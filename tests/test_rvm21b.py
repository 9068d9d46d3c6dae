"""rvm21b: mends of review rv21b's findings, each with the test that shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_rules import end, phase, spoke, start
from test_speech_corrections import write_run

from drills.log import LogRecord
from range.cli.main import main
from range.runs.runlog import EVENTS
from scoring.corrections import Correction, log_sha256, write_corrections


def test_the_report_does_not_credit_an_added_act_the_score_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rv21b #3: a hand-written added act over heard words is not applied by the score; the
    # report's "What was heard" must not credit it either (the console already did not).
    first, *rest = start()
    built_in = LogRecord(first.t, first.kind, first.data | {"drill": "knife-approach-v1"})
    records = [built_in, *rest, phase(0, "active_resistance"), spoke(1.2, "command.stop", "stop")]
    run = write_run(tmp_path / "run", [*records, end(3)])
    over = Correction(
        at_s=0.5, utterance_t=1.5, text="", was="none", act="identify", by="X",
        made="2026-12-01T23:00:00+00:00", added=True, start_s=0.5, end_s=1.5,
    )  # fmt: skip
    write_corrections(run, log_sha256(run / EVENTS), [over])
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "inside its span" in page  # said as not applied
    assert "instructor, in review" not in page and "<td>(not heard by the recogniser)" not in page


def test_a_scripted_lines_zero_length_span_is_one_time_where_nothing_is_heard_near() -> None:
    # rv21b #4: the list of what was heard, given when --at names nothing, writes each
    # utterance's span as span_text does: a scripted line (its start its end) is "1.00 s".
    from scoring.corrections import CorrectionError, find_utterance

    log = [*start(), spoke(1.0, "command.stop", "stop", talk_s=0.0), end(3)]
    with pytest.raises(CorrectionError) as caught:
        find_utterance(log, 2.5, None)
    assert "1.00 s" in str(caught.value) and "1.00-1.00 s" not in str(caught.value)


def test_the_recogniser_reads_and_parses_an_agency_phrase_book_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rv21b #7: load_phrases parsed the agency file, then phrasebook(extra) read and parsed it
    # again; it now merges the book it parsed.
    from test_speech_newuser import _agency

    import drills.speech
    import range.voice.lexicon as lexicon

    book = _agency(tmp_path, '\n[[acts]]\nact = "command.freeze"\nphrases = ["halt now"]\n')
    read: list[Path] = []
    for module in (drills.speech, lexicon):
        real = module.read_text

        def counted(path: Path, real: object = real) -> str:
            read.append(path)
            assert callable(real)
            text: str = real(path)
            return text

        monkeypatch.setattr(module, "read_text", counted)
    assert lexicon.load_phrases(book).phrase_acts()["halt now"] == "command.freeze"
    assert read == [book]
