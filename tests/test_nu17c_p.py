"""Issue 17, a new user's pass nu17c (/work/wt/reports/nu17c.md), the smaller items: the
console's audio of one utterance (#7), the correction drop-down offering only what is taken (#8),
validation messages in the data files' words (#13), transitions that can never fire (#14), CLI
numbers with an upper bound (#15), and the cosmetic items (#17).
Real espeak-ng audio, a real console over SQLite and Chromium where the console is involved."""

from __future__ import annotations

import io
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from console_support import Range, browser_login, chromium, console_range
from speech_support import spoken_track

from drills.officer import find_officer
from drills.schema import read_drill_file
from range.cli.corrections import _check_act, run_acts
from range.records.store import Records
from range.runs.drill import RunConfig, run_drill
from range.runs.runlog import read_events

HAS_VOICE = shutil.which("espeak-ng") is not None

# The officer's words in the console's run, and when (s) in an 8 s recording.
SAID = [(0.3, "police drop the knife"), (3.0, "stop right there")]


@pytest.fixture(scope="module")
def rng(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Range]:
    with console_range(tmp_path_factory.mktemp("nu17c-p")) as r:
        yield r


@pytest.fixture(scope="module")
def voiced(rng: Range) -> tuple[int, Path]:
    """A knife drill run with the officer's recording (`--voice`), recorded for B-101: its id
    and run folder."""
    if not HAS_VOICE:
        pytest.skip("espeak-ng missing (scripts/test.sh installs it)")
    pytest.importorskip("pocketsphinx")
    import queue

    from range.console.lane import LiveControl
    from range.runs.drill import Session
    from range.voice.audio import write_wav

    wav = write_wav(rng.tmp / "officer.wav", spoken_track(SAID, 8.0))
    source = read_drill_file("knife-approach-v1")
    # An instructor's live mark of a bare category at 1 s (a mark may name one; a correction
    # may not).
    commands: queue.Queue[dict[str, Any]] = queue.Queue()
    control = LiveControl(commands, lambda state, events: None, {}, speed=None)

    def on_frame(session: Session) -> None:
        if abs(session.engine.t - 1.0) < 1e-9:
            mark = {"act": "command", "text": "Hands!"}
            commands.put({"command": "mark", "by": "inst", "args": mark})
        control(session)

    result = run_drill(
        RunConfig(
            source.drill,
            find_officer("taser-first-v1"),
            seed=7,
            runs_dir=rng.tmp / "runs",
            drill_file=source,
            officer_name="B-101",
            voice=wav,
            on_frame=on_frame,
        )
    )
    with Records.open(rng.db_url) as records:
        run_id = records.add_drill_run("B-101", result.as_json())
    return int(run_id), Path(result.run_dir)


def _get(rng: Range, path: str, cookie: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{rng.port}{path}")
    request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status), bytes(response.read())


# -- 7: each row's player plays its own utterance ------------------------------------------------


def test_each_utterance_s_audio_is_its_own_stretch_of_the_recording(
    rng: Range, voiced: tuple[int, Path]
) -> None:
    """nu17c #7: /runs/ID/said/N.wav was the whole recording from 0 s for every row."""
    import soundfile

    from range.console.pages import CLIP_PAD_S

    run_id, run_dir = voiced
    spoke = [r for r in read_events(run_dir) if r.kind == "officer_spoke"]
    assert len(spoke) >= 2, [r.data for r in spoke]
    whole, rate = soundfile.read(run_dir / "officer-voice.wav", dtype="int16")
    inst = rng.client()
    inst.login("inst")
    clips = []
    for n, record in enumerate(spoke, 1):
        status, body = _get(rng, f"/runs/{run_id}/said/{n}.wav", inst.cookie)
        assert status == 200
        samples, clip_rate = soundfile.read(io.BytesIO(body), dtype="int16")
        assert clip_rate == rate
        start_s = max(0.0, float(record.data["start_s"]) - CLIP_PAD_S)
        end_s = float(record.data["end_s"]) + CLIP_PAD_S
        assert len(samples) == pytest.approx((end_s - start_s) * rate, abs=2)
        first = int(start_s * rate)
        assert np.array_equal(samples, whole[first : first + len(samples)])
        clips.append(body)
    assert len(set(clips)) == len(clips)  # no two rows play the same audio
    assert all(len(c) < len(whole) * 2 for c in clips)


# -- 8: the correction drop-down offers only what a correction takes ----------------------------


@pytest.fixture(scope="module")
def browser(rng: Range) -> Iterator[Any]:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs chromium")
    b = chromium()
    try:
        browser_login(b, rng.port, "inst")
        yield b
    finally:
        b.quit()


def test_the_correction_drop_down_offers_only_acts_that_are_taken(
    rng: Range, voiced: tuple[int, Path], browser: Any
) -> None:
    """nu17c #8: the drop-down offered `command`, `warning`, `question` and `rapport`, and a
    correction to any of them was refused ("a category, not an act")."""
    run_id, run_dir = voiced
    browser.get(f"http://127.0.0.1:{rng.port}/runs/{run_id}")
    selects = browser.find_elements("css selector", "form.correct-form select[name=act]")
    assert selects
    offered = [o.get_attribute("value") for o in selects[0].find_elements("tag name", "option")]
    assert offered == run_acts(run_dir)
    assert "none" in offered and "command.drop_weapon" in offered
    assert not {"command", "warning", "question", "rapport"} & set(offered)
    for act in offered:
        _check_act(run_dir, act)  # every act offered is one a correction takes
    # The mark of a bare category shows its act, chosen and greyed, so a Correct pressed on its
    # row is refused rather than turning it into the first act offered.
    mark = browser.find_element("css selector", "select[aria-label='act of mark 1']")
    chosen = [o for o in mark.find_elements("tag name", "option") if o.is_selected()]
    assert [(o.text, o.get_attribute("value"), o.is_enabled()) for o in chosen] == [
        ("command", "", False)
    ]
    assert [o.get_attribute("value") for o in mark.find_elements("tag name", "option")][1:] == (
        offered
    )


# -- 15: CLI numbers with an upper bound, named ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["say", "hi", "--distance", "1e9"], "1e9: more than 0 and at most 50 metres is needed"),
        (["say", "hi", "--distance", "0"], "0: more than 0 and at most 50 metres is needed"),
        (["listen", "--seconds", "1e12"], "1e12: more than 0 and at most 86400 seconds is needed"),
        (["listen", "--seconds", "-1"], "-1: more than 0 and at most 86400 seconds is needed"),
    ],
)
def test_a_speech_number_out_of_range_is_refused_naming_the_range(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu17c #15: `speech say --distance 1e9` and `speech listen --seconds 1e12` were taken."""
    from range.cli.main import main

    out = tmp_path / "x.wav"
    with pytest.raises(SystemExit) as caught:
        main(["speech", *args, *(["--out", str(out)] if args[0] == "say" else [])])
    assert caught.value.code == 2
    assert said in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.skipif(not HAS_VOICE, reason="espeak-ng missing")
def test_the_farthest_distance_is_where_the_level_stops_falling(tmp_path: Path) -> None:
    """MAX_SAY_DISTANCE_M is where the inverse-distance gain meets its floor: 50 m and 500 m
    would sound the same, so nothing past 50 m is lost by the bound."""
    from range.cli.speech import MAX_SAY_DISTANCE_M
    from range.voice.speak import MIN_GAIN, REFERENCE_DISTANCE_M, place

    assert pytest.approx(REFERENCE_DISTANCE_M / MIN_GAIN) == MAX_SAY_DISTANCE_M
    tone = np.ones(100, dtype=np.float32)
    far = place(tone, 0.0, MAX_SAY_DISTANCE_M)
    assert np.allclose(far, place(tone, 0.0, MAX_SAY_DISTANCE_M * 10))
    assert not np.allclose(far, place(tone, 0.0, MAX_SAY_DISTANCE_M / 2))


# -- 17: the cosmetic items -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.mp3", "x.ogg", "x"])
def test_speech_say_out_refuses_a_name_that_is_not_wav(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu17c #17: `speech say hi --out x.mp3` wrote WAV data under an .mp3 name."""
    from range.cli.main import main

    with pytest.raises(SystemExit) as caught:
        main(["speech", "say", "hi", "--out", str(tmp_path / name)])
    assert caught.value.code == 2
    assert "WAV audio is what is written: give a name ending in .wav" in capsys.readouterr().err
    assert not (tmp_path / name).exists()


@pytest.mark.skipif(not HAS_VOICE, reason="espeak-ng missing")
def test_speech_say_out_writes_a_wav_named_in_any_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import soundfile

    from range.cli.main import main

    out = tmp_path / "line.WAV"
    assert main(["speech", "say", "hi", "--out", str(out)]) == 0
    assert soundfile.info(str(out)).format == "WAV"


def test_recognize_quotes_every_phrase_the_same_way() -> None:
    """nu17c #17: repr() quoted 'drop the knife' in single quotes and "what's your name" in
    double ones."""
    from range.cli.speech import _heard_line
    from range.voice.recognize import Heard

    def line(phrase: str) -> str:
        return _heard_line(Heard(phrase, phrase, "question.name", 0.9, 1.0, 2.0, 2.5, 0.5))

    assert " 'what's your name' " in line("what's your name")
    assert " 'drop the knife' " in line("drop the knife")
    assert '"' not in line("what's your name")


def test_the_saved_list_keeps_its_columns_for_a_long_name(tmp_path: Path) -> None:
    """nu17c #17: `debrief-got_through.wav` overran the 22-character name column."""
    from range.cli.summary import saved_lines

    for name in (
        "events.jsonl",
        "debrief-got_through.wav",
        "debrief-what_was_the_hardest_part.wav",
    ):
        (tmp_path / name).write_bytes(b"")
    listed = [line for line in saved_lines(tmp_path, []) if line.startswith("  ")]
    assert len(listed) == 3
    starts = {len(line) - len(line[2:].split(maxsplit=1)[1]) for line in listed}
    assert len(starts) == 1, listed  # every description starts in the same column


# -- 13: validation messages in the data files' words --------------------------------------------

BOOK = 'version = 1\nlanguage = "en"\n\n[[acts]]\nact = "command.kneel"\nphrases = {phrases}\n'


@pytest.mark.parametrize(
    ("phrases", "said"),
    [
        ('"kneel down"', "p.toml:6: acts[0].phrases: a list is needed, not the text 'kneel down'"),
        ('["kneel down", 42]', "p.toml:6: acts[0].phrases[1]: text is needed, not 42"),
        ('["kneel down", true]', "p.toml:6: acts[0].phrases[1]: text is needed, not true"),
    ],
)
def test_a_phrase_book_s_errors_are_in_the_data_files_words(phrases: str, said: str) -> None:
    """nu17c #13: `acts[0].phrases: Input should be a valid list` and the like."""
    from drills.speech import parse_phrasebook
    from physics.datafiles import DataFileError

    with pytest.raises(DataFileError) as caught:
        parse_phrasebook(BOOK.format(phrases=phrases), "p.toml")
    assert str(caught.value) == said
    with pytest.raises(DataFileError) as caught:
        parse_phrasebook(BOOK.format(phrases='["kneel down"]').replace('"command.kneel"', "5"), "p")
    assert str(caught.value) == "p:5: acts[0].act: text is needed, not 5"


CRISIS = Path(__file__).parent.parent / "drills/data/drills/crisis-talk-down-v1.toml"


def _drill_refused(old: str, new: str) -> str:
    from drills.schema import parse_drill
    from physics.datafiles import DataFileError

    text = CRISIS.read_text()
    assert old in text
    with pytest.raises(DataFileError) as caught:
        parse_drill(text.replace(old, new, 1), "d.toml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("new", "said"),
    [
        (
            "start_agitation = 1.5",
            "deescalation.start_agitation: 1.5 is out of range: allowed 0 <= start_agitation <= 1",
        ),
        (
            "start_agitation = 0.6, responsiveness_spread = 1.0",
            "deescalation.responsiveness_spread: 1 is out of range:"
            " allowed 0 <= responsiveness_spread < 1",
        ),
        (
            'start_agitation = "high"',
            "deescalation.start_agitation: a number is needed, not the text 'high'",
        ),
    ],
)
def test_a_drill_s_bounds_are_named_in_the_data_files_words(new: str, said: str) -> None:
    """nu17c #13: `start_agitation: Input should be less than or equal to 1`."""
    message = _drill_refused("start_agitation = 0.6", new)
    assert message == f"d.toml:25: subjects[0].{said}"
    assert "Input should" not in message


def test_a_value_not_among_the_choices_names_them() -> None:
    message = _drill_refused('behaviour = "surrendered"', 'behaviour = "sleepy"')
    assert ": one of 'compliant', " in message
    assert message.endswith(" or 'incapacitated' is needed, not the text 'sleepy'")


# -- 14: transitions and thresholds that can never fire ------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            '"agitation_below:0.35"',
            '"agitation_below:0"',
            "'agitation_below:0' can never fire: agitation is 0..1, never below 0",
        ),
        (
            '"agitation_above:0.9"',
            '"agitation_above:1"',
            "'agitation_above:1' can never fire: agitation is 0..1, never above 1",
        ),
        (
            '"agitation_above:0.9"',
            '"agitation_above:1.0"',
            "'agitation_above:1.0' can never fire: agitation is 0..1, never above 1",
        ),
        (
            "shout_dbfs = -20.0",
            "shout_dbfs = -200.0",
            "deescalation.shout_dbfs: -200 is out of range: allowed -60 <= shout_dbfs <= 0",
        ),
    ],
)
def test_drill_validate_refuses_what_can_never_fire(old: str, new: str, said: str) -> None:
    """nu17c #14: agitation_below:0, agitation_above:1 and shout_dbfs = -200 (every word a
    shout) were "ok"."""
    message = _drill_refused(old, new)
    assert said in message
    assert message.startswith("d.toml:")


def test_the_shout_floor_is_below_the_quietest_speech_heard() -> None:
    """SHOUT_FLOOR_DBFS lies under the quietest utterance the recogniser hears (a peak
    MAX_GAIN_DB under its target level), speech's RMS some 10 dB under its peak."""
    from drills.deescalation import SHOUT_FLOOR_DBFS
    from range.voice.recognize import LEVEL_TARGET_DBFS, MAX_GAIN_DB

    assert SHOUT_FLOOR_DBFS <= LEVEL_TARGET_DBFS - MAX_GAIN_DB - 10.0
