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
    from range.voice.audio import write_wav

    wav = write_wav(rng.tmp / "officer.wav", spoken_track(SAID, 8.0))
    source = read_drill_file("knife-approach-v1")
    result = run_drill(
        RunConfig(
            source.drill,
            find_officer("taser-first-v1"),
            seed=7,
            runs_dir=rng.tmp / "runs",
            drill_file=source,
            officer_name="B-101",
            voice=wav,
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
