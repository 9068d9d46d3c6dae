"""Subjects answer and the range is heard (issue 17, build point 4): `say` lines in drill files,
`subject_spoke` records, the run's soundtrack built from its log and played through real sinks
(the WAV file read back, ALSA's null device)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from drills.engine import DrillEngine, OfficerAction
from drills.log import MemoryLog
from drills.schema import Drill, parse_drill
from drills.voicing import heard_from
from physics.datafiles import DataFileError
from physics.units import FT_M
from range.voice.speak import OUT_RATE_HZ

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")

# A man off to the officer's right speaks at 40 ft, walks in, and speaks again at 10 ft.
WALK_IN = """
id = "walk-in-v1"
version = 1
title = "A man walks in talking"
rationale = "test"
expected_response = "test"
time_limit_s = 30.0

[[subjects]]
id = "man"
start_distance_ft = 40.0
lateral_ft = -10.0
start_phase = "far"

[[phases]]
id = "far"
subject = "man"
behaviour = "active_resistance"
say = "stay back"
[[phases.transitions]]
to = "walk"
after_s = 2.0

[[phases]]
id = "walk"
subject = "man"
behaviour = "active_resistance"
movement = "advance"
speed_mps = 3.0
[[phases.transitions]]
to = "near"
within_ft = 15.0

[[phases]]
id = "near"
subject = "man"
behaviour = "active_resistance"
say = "stay back"
[[phases.transitions]]
to = "done"
after_s = 3.0

[[phases]]
id = "done"
subject = "man"
behaviour = "compliant"
ends_drill = true
"""

MUZZLE = {"position_m": [0.0, 0.0, 1.5], "orientation": [0.0, 0.0, 0.0, 1.0], "tracked": True}


def _play(drill: Drill, shoot_at_s: float | None = None) -> MemoryLog:
    log = MemoryLog()
    engine = DrillEngine(drill, np.random.default_rng(1), log, dt_s=0.01)
    engine.start(seed=1)
    while not engine.finished:
        if shoot_at_s is not None and abs(engine.t - shoot_at_s) < 0.005:
            engine.officer_action(OfficerAction.FIREARM_FIRED, muzzle=MUZZLE, weapon="pistol")
        engine.step()
    return log


def _spoken(log: MemoryLog) -> list[dict[str, object]]:
    return [{"t": r.t, **r.data} for r in log.records if r.kind == "subject_spoke"]


def test_heard_from_places_left_right_ahead_and_behind() -> None:
    assert heard_from((0.0, 0.0), 0.0, (3.0, 0.0)) == (0.0, 3.0)
    az, d = heard_from((0.0, 0.0), 0.0, (0.0, 2.0))  # y is to the left
    assert (az, d) == (pytest.approx(-90.0), pytest.approx(2.0))
    assert heard_from((0.0, 0.0), 0.0, (0.0, -2.0))[0] == pytest.approx(90.0)
    assert heard_from((0.0, 0.0), 0.0, (-1.0, 0.0))[0] == pytest.approx(180.0)
    # Turned to face left (yaw +90°): what was on the left is now ahead.
    assert heard_from((0.0, 0.0), math.pi / 2, (0.0, 2.0))[0] == pytest.approx(0.0)
    assert heard_from((1.0, 1.0), 0.0, (1.0, 1.0)) == (0.0, 0.0)


def test_a_phase_line_is_logged_with_where_the_subject_stood_when_it_was_said() -> None:
    log = _play(parse_drill(WALK_IN, "walk-in.toml"))
    far, near = _spoken(log)
    assert far["t"] == 0.0 and far["text"] == "stay back" and far["phase"] == "far"
    assert far["listener"] == "officer" and far["voice"] == 0
    # 40 ft ahead, 10 ft to the right: azimuth atan(10/40) = 14.04° right, 12.57 m.
    assert far["azimuth_deg"] == pytest.approx(math.degrees(math.atan2(10, 40)), abs=1e-3)
    assert far["distance_m"] == pytest.approx(math.hypot(40, 10) * FT_M, abs=1e-4)
    assert near["phase"] == "near"
    assert near["distance_m"] == pytest.approx(15 * FT_M, abs=0.04)  # one 10 ms step at 3 m/s
    assert near["azimuth_deg"] == pytest.approx(far["azimuth_deg"], abs=1e-3)  # same bearing


def test_a_say_line_is_validated_with_file_line_and_field() -> None:
    bad = WALK_IN.replace(
        'say = "stay back"\n[[phases.transitions]]\nto = "walk"',
        'say = ""\n[[phases.transitions]]\nto = "walk"',
    )
    with pytest.raises(DataFileError, match=r"walk-in.toml:\d+: phases\[0\].say"):
        parse_drill(bad, "walk-in.toml")


def _energy(track: np.ndarray, start_s: float, length_s: float) -> np.ndarray:
    i = int(start_s * OUT_RATE_HZ)
    seg = track[i : i + int(length_s * OUT_RATE_HZ)]
    return np.asarray((seg.astype(np.float64) ** 2).sum(axis=0))


@needs_espeak
def test_the_soundtrack_file_puts_the_voice_on_its_side_and_quieter_far_away(
    tmp_path: Path,
) -> None:
    from range.voice.soundtrack import build
    from range.voice.speak import Voice, WavSink, synthesize, voice_for_subject

    log = _play(parse_drill(WALK_IN, "walk-in.toml"))
    far, near = _spoken(log)
    out = tmp_path / "sound.wav"
    WavSink(out).play(build(log.records, seed=1))
    track, rate = soundfile.read(str(out))
    assert rate == OUT_RATE_HZ and track.shape[1] == 2
    assert len(track) / rate == pytest.approx(log.records[-1].t + 0.5, abs=0.01)
    line_s = len(synthesize("stay back", voice_for_subject(0))) / OUT_RATE_HZ
    e_far = _energy(track, float(far["t"]), line_s)  # type: ignore[arg-type]
    e_near = _energy(track, float(near["t"]), line_s)  # type: ignore[arg-type]
    # Right of the officer: the right channel carries more, by the constant-power pan's ratio
    # tan²((1 + sin 14°) π/4) = 1.63.
    pan = math.sin(math.radians(float(far["azimuth_deg"])))  # type: ignore[arg-type]
    expected = math.tan((pan + 1) * math.pi / 4) ** 2
    assert e_far[1] / e_far[0] == pytest.approx(expected, rel=0.02)
    assert e_far[1] > 1.5 * e_far[0] and e_near[1] > 1.5 * e_near[0]  # he is on the right
    # 1/r: the same line at 15 ft is (12.57 / 4.57)² = 7.6 times the energy it had at 41 ft.
    ratio = float(far["distance_m"]) / float(near["distance_m"])  # type: ignore[arg-type]
    assert e_near.sum() / e_far.sum() == pytest.approx(ratio**2, rel=0.02)
    assert Voice() != voice_for_subject(0)


def test_a_gunshot_is_heard_at_its_event_time_and_the_track_repeats_from_its_seed() -> None:
    from range.voice.soundtrack import build

    log = _play(parse_drill(WALK_IN, "walk-in.toml"), shoot_at_s=1.0)
    (shot,) = [r for r in log.records if r.data.get("action") == "firearm_fired"]
    track = build(log.records, seed=4, speak=None)  # lines silent: only the shot sounds
    onset = int(np.argmax(np.abs(track).max(axis=1) > 0.05)) / OUT_RATE_HZ
    assert onset == pytest.approx(shot.t, abs=0.002)
    assert np.array_equal(track, build(log.records, seed=4, speak=None))
    assert not np.array_equal(track, build(log.records, seed=5, speak=None))


@needs_espeak
@pytest.mark.skipif(shutil.which("aplay") is None, reason="alsa-utils missing")
def test_a_live_run_plays_each_line_through_alsa_as_it_is_logged() -> None:
    from range.voice.soundtrack import LivePlayer
    from range.voice.speak import AlsaSink

    player = LivePlayer(AlsaSink("null"), seed=1)
    log = MemoryLog()
    log.attach(player)
    engine = DrillEngine(parse_drill(WALK_IN, "walk-in.toml"), np.random.default_rng(1), log)
    engine.start()
    engine.officer_action(OfficerAction.FIREARM_FIRED, muzzle=MUZZLE)
    player.close()
    assert player.error is None and player.played == 2  # the line at 0 s and the shot


def test_a_live_player_without_a_device_says_audio_is_off_and_the_run_goes_on() -> None:
    from range.voice.soundtrack import LivePlayer
    from range.voice.speak import AlsaSink

    if shutil.which("aplay") is None:
        pytest.skip("alsa-utils missing")
    player = LivePlayer(AlsaSink("nosuch"), seed=1, speak=None)
    log = MemoryLog()
    log.attach(player)
    engine = DrillEngine(parse_drill(WALK_IN, "walk-in.toml"), np.random.default_rng(1), log)
    engine.start()
    engine.officer_action(OfficerAction.FIREARM_FIRED, muzzle=MUZZLE)
    engine.officer_action(OfficerAction.FIREARM_FIRED, muzzle=MUZZLE)
    player.close()
    assert str(player.error).startswith("audio is off: ALSA device 'nosuch'")
    assert player.played == 0 and engine.state.value == "running"


def test_drill_run_writes_its_soundtrack_and_plays_it_through_alsa_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    runs = tmp_path / "runs"
    args = ["drill", "run", "talk-down-cover-v1", "--seed", "1", "--runs-dir", str(runs)]
    assert main([*args, "--sound", "alsa", "--sound-device", "null"]) == 0
    assert main([*args, "--sound", "device"]) == 0  # no output device here: said, not fatal
    err = capsys.readouterr().err
    if shutil.which("espeak-ng") is not None:
        assert "speech is off" not in err
    from range.voice.audio import output_off_reason

    reason = output_off_reason()
    if reason is not None:
        assert f"openrange: audio is off: {reason}\n" in err
    first, second = sorted(runs.iterdir())
    a, rate = soundfile.read(str(first / "sound.wav"))
    b, _ = soundfile.read(str(second / "sound.wav"))
    assert rate == OUT_RATE_HZ and np.array_equal(a, b)  # the same seed, the same track
    # The man's first line is heard from 35 ft straight ahead at t = 0: both ears alike.
    opening = a[: OUT_RATE_HZ // 2]
    assert np.abs(opening).max() > 0.01 and np.allclose(opening[:, 0], opening[:, 1], atol=1e-4)
    assert main([*args, "--sound", "off"]) == 0
    newest = sorted(runs.iterdir())[-1]
    assert not (newest / "sound.wav").exists()


def test_a_turned_head_hears_a_line_from_where_it_now_faces() -> None:
    from physics.pose import pose_from_openxr
    from range.runs.drill import head_yaw_rad

    # An OpenXR head turned 90° to the left (about +Y) gazes along the physics +y (left).
    s = math.sqrt(0.5)
    left = pose_from_openxr((0.0, 1.7, 0.0), (0.0, s, 0.0, s), 0.0, valid=True, tracked=True)
    assert head_yaw_rad(left) == pytest.approx(math.pi / 2)
    assert head_yaw_rad(None) == 0.0
    drill = parse_drill(WALK_IN.replace("lateral_ft = -10.0", "lateral_ft = 0.0"), "w.toml")
    log = MemoryLog()
    engine = DrillEngine(drill, np.random.default_rng(1), log)
    engine.officer_yaw_rad = head_yaw_rad(left)
    engine.start()
    (line,) = _spoken(log)
    assert line["azimuth_deg"] == pytest.approx(90.0)  # straight downrange: now on the right


def test_a_course_attempt_is_heard_a_beep_at_each_start_signal_and_a_report_per_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from range.cli.main import main

    args = ["course", "run", "fbi-pistol-2019-v1", "--runs-dir", str(tmp_path), "--sound", "wav"]
    assert main(args) == 0
    capsys.readouterr()
    (run,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    track, rate = soundfile.read(str(run / "sound.wav"))
    loud = np.abs(track).max(axis=1)
    starts = [r["t"] for r in records if r["kind"] == "string_started"]
    shots = [r["t"] for r in records if r["kind"] == "shot"]
    assert len(starts) >= 5 and len(shots) >= 40
    # The timer's beep: a 3 kHz tone for 0.3 s from the start signal.
    i = int(starts[1] * rate)
    beep = track[i : i + int(0.3 * rate), 0]
    peak_hz = np.argmax(np.abs(np.fft.rfft(beep))) * rate / len(beep)
    assert peak_hz == pytest.approx(3000.0, abs=10.0)
    # The first round of the second string: quiet just before it, a report from its time on.
    shot_t = next(t for t in shots if t > starts[1] + 0.3)
    j = int(shot_t * rate)
    assert loud[j - int(0.02 * rate) : j].max() < 0.05 < loud[j : j + int(0.005 * rate)].max()


def test_without_espeak_the_run_goes_on_and_says_in_one_line_that_speech_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from range.cli.main import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng, no aplay
    runs = tmp_path / "runs"
    args = ["drill", "run", "talk-down-cover-v1", "--seed", "1", "--runs-dir", str(runs)]
    assert main([*args, "--sound", "alsa", "--sound-device", "null"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "openrange: speech is off: espeak-ng is not installed; apt-get install espeak-ng" in err
    assert "openrange: audio is off: aplay is missing; apt-get install alsa-utils" in err
    (run,) = runs.iterdir()
    track, _ = soundfile.read(str(run / "sound.wav"))
    assert np.abs(track).max() == 0.0  # a talk-down: no shots, and the lines left silent


@pytest.mark.skipif(shutil.which("aplay") is None, reason="alsa-utils missing")
def test_a_live_range_timer_s_start_signal_is_heard_as_well_as_said() -> None:
    from range.cli.sound import timer_voice
    from range.voice.soundtrack import LivePlayer
    from range.voice.speak import AlsaSink

    said: list[str] = []
    player = LivePlayer(AlsaSink("null"), seed=1, speak=None)
    voice = timer_voice(said.append, player)
    for line in ("stage 1 string 1: pistol, 9 ft", "STANDBY", "BEEP"):
        voice(line)
    player.close()
    assert said == ["stage 1 string 1: pistol, 9 ft", "STANDBY", "BEEP"]
    assert player.error is None and player.played == 1  # the beep alone
    assert timer_voice(said.append, None) == said.append  # --sound wav/off: said only


@pytest.mark.skipif(shutil.which("aplay") is None, reason="alsa-utils missing")
def test_a_replay_plays_the_run_s_soundtrack_along_and_stops_it_at_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import time

    from range.cli.sound import playing_along
    from range.voice.speak import WavSink, beep, place

    WavSink(tmp_path / "sound.wav").play(place(beep(2.0), 0.0, 1.0))
    args = argparse.Namespace(sound="alsa", sound_device="null", speed=1.0)
    with playing_along(args, tmp_path) as process:
        assert process is not None and process.args[-1] == str(tmp_path / "sound.wav")
        time.sleep(0.3)
    # ALSA's null device takes the samples as fast as they come (no clock to pace them), so
    # aplay has played the whole file by now and ended cleanly; against a sound card it is
    # still playing here and is stopped with the replay.
    assert process.returncode == 0
    assert capsys.readouterr().err == ""
    with playing_along(
        argparse.Namespace(sound="alsa", sound_device="nosuch", speed=1.0), tmp_path
    ):
        time.sleep(0.3)
    assert capsys.readouterr().err.startswith("openrange: audio is off: ALSA device 'nosuch'")
    with playing_along(argparse.Namespace(sound="alsa", sound_device="null", speed=2.0), tmp_path):
        pass
    assert "plays at --speed 1 only" in capsys.readouterr().err
    with playing_along(args, tmp_path / "elsewhere") as process:
        assert process is None
    assert "no soundtrack kept with this run" in capsys.readouterr().err
