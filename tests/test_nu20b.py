"""nu20 (armorer), pass f20b: the calibrate commands. Each test fails without its fix. The
replica is a real emulator on a real pty read through a real ReplicaLink; the tracker's OpenXR
stream is replaced by a still pose source (the runtime runs only in the Monado chroot:
tests/test_xr_calibration.py), since what is tested here is the serial side of the bench."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from peripherals.driver import ReplicaLink
from peripherals.emulator import PistolEmulator
from peripherals.errors import PeripheralIOError
from physics.pose import Pose
from range.calibration.bench import BenchEmulator, BenchPoint, BenchTargets, LiveBench
from range.calibration.profiles import new_profile, save_profile
from range.calibration.solver import CalibrationError, solve_boresight
from range.cli.main import main
from range.clock import MonotonicClock

TARGETS = BenchTargets(
    version=1,
    points=[
        BenchPoint(name=f"p{k}", position_m=(3.0 + k, 0.1 * k, 1.0 + 0.05 * k)) for k in range(4)
    ],
)


class StillTracker:
    """A tracker that does not move, its stream stamped on the host clock as it is read."""

    def __init__(self, clock: MonotonicClock) -> None:
        self.clock = clock

    def update(self) -> dict[str, Pose]:
        return {"aim": Pose((0.0, 0.0, 1.4), (0.0, 0.0, 0.0, 1.0), self.clock.now_s())}

    def pose(self, device: str, t: float) -> Pose:
        return Pose((0.0, 0.0, 1.4), (0.0, 0.0, 0.0, 1.0), t)


@pytest.fixture
def pistol(tmp_path: Path) -> Iterator[PistolEmulator]:
    emulator = PistolEmulator("P-CAL5", MonotonicClock(), directory=tmp_path / "ports")
    emulator.start()
    emulator.run_free()
    try:
        yield emulator
    finally:
        emulator.stop()


def _bench(link: ReplicaLink, clock: MonotonicClock, timeout_s: float) -> LiveBench:
    said: list[str] = []
    return LiveBench(
        link, StillTracker(clock), clock, said.append, timeout_s=timeout_s, replica="pistol P-CAL5"
    )


# -- 4. a calibration on --port opens a session ------------------------------------------------


def test_a_port_calibration_opens_a_session_so_the_emulator_s_trigger_at_count_starts(
    pistol: PistolEmulator,
) -> None:
    # nu20 #4: `calibrate boresight --port` never sent SESSION_SET, so `emulate --trigger-at`
    # (which counts from a host's first session, docs/protocol.md) never pulled.
    from range.cli.peripherals import _pull_after_attach

    stop = threading.Event()
    hands = threading.Thread(
        target=_pull_after_attach, args=(pistol, [0.3, 0.6, 0.9, 1.2], False, stop), daemon=True
    )
    hands.start()
    clock = MonotonicClock()
    try:
        with ReplicaLink(pistol.port, clock) as link:
            samples = _bench(link, clock, 4.0).session(TARGETS)
    finally:
        stop.set()
        hands.join(timeout=2.0)
    assert pistol.session_opened.is_set()
    assert [s.target_m for s in samples] == [p.position_m for p in TARGETS.points]


def test_no_pull_in_time_names_the_replica_that_answered_not_the_port(
    pistol: PistolEmulator,
) -> None:
    # nu20 #4: the replica answered HELLO with the right serial, yet the timeout asked "is the
    # replica on this port?".
    clock = MonotonicClock()
    with ReplicaLink(pistol.port, clock) as link, pytest.raises(CalibrationError) as refused:
        _bench(link, clock, 0.3).session(TARGETS)
    said = str(refused.value)
    assert "is the replica on this port" not in said
    assert "pistol P-CAL5" in said and "squeeze the trigger" in said and "--timeout" in said


# -- 8. an expired profile is shown as expired -----------------------------------------------


def _saved(folder: Path, serial: str, days_ago: int, valid_days: int) -> None:
    """A profile `calibrate boresight --emulate` would have saved `days_ago` days ago."""
    bore = solve_boresight(BenchEmulator(np.random.default_rng(3)).session(), 2.0)
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    profile = new_profile(serial, "taser-7", "Sgt. Ortiz", bore, 2.0, day, valid_days)
    save_profile(folder, profile.model_copy(update={"emulated": True}))


def test_an_expired_profile_is_shown_expired_in_show_json_and_the_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu20 #8: show, show --json and the certificate said nothing of an expiry already past.
    _saved(tmp_path, "T7-0007", 183, 182)  # expired yesterday
    _saved(tmp_path, "T7-0008", 10, 180)
    folder = ["--profiles", str(tmp_path)]
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert main(["calibrate", "show", "--device", "T7-0007", *folder]) == 0
    out = capsys.readouterr().out
    assert f"EXPIRED on {yesterday}" in out and "calibrate boresight --device T7-0007" in out
    assert main(["calibrate", "show", "--device", "T7-0008", *folder]) == 0
    assert "VALID until" in capsys.readouterr().out
    assert main(["calibrate", "show", "--device", "T7-0007", "--json", *folder]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["valid"] is False and shown["status"] == "expired"
    assert main(["calibrate", "show", "--device", "T7-0008", "--json", *folder]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "valid"
    cert = tmp_path / "c.html"
    certificate = ["calibrate", "certificate", "--device", "T7-0007", "--out", str(cert)]
    assert main([*certificate, *folder]) == 0
    assert "EXPIRED" in capsys.readouterr().out
    page = cert.read_text()
    assert "(EXPIRED)" in page and f"expired on {yesterday}" in page
    assert f"valid until {yesterday}" not in page


# -- 9. a --profiles folder that does not exist ----------------------------------------------


def test_a_profiles_folder_that_does_not_exist_is_said_by_every_calibrate_verb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu20 #9: `show --profiles <no such folder>` said "never been calibrated" (so did
    # certificate, latency and verify), when the folder was mistyped.
    missing = tmp_path / "nope"
    device = ["--device", "T7-0007", "--profiles", str(missing)]
    for verb in (
        ["show"],
        ["certificate", "--out", str(tmp_path / "c.html")],
        ["latency", "--emulate"],
        ["verify", "--emulate"],
    ):
        assert main(["calibrate", *verb, *device]) == 2, verb
        err = capsys.readouterr().err.strip()
        assert err == f"openrange: --profiles {missing}: no such folder (check the path;" + (
            " `calibrate boresight` makes it with the first profile)"
        ), verb
    assert main(["calibrate", "list", "--profiles", str(missing)]) == 2
    assert "no such folder (check the path;" in capsys.readouterr().err
    # A file is not a folder; boresight makes a new folder, and says so.
    assert main(["calibrate", "show", "--device", "T7-0007", "--profiles", __file__]) == 2
    assert "not a folder" in capsys.readouterr().err
    bore = ["calibrate", "boresight", "--emulate", "--model", "taser-7", "--armorer", "A"]
    assert main([*bore, *device]) == 0
    assert "no such folder yet: it is made for this profile" in capsys.readouterr().err
    assert (missing / "T7-0007.toml").is_file()


# -- 7. the replica unplugged during calibration -----------------------------------------------


def test_a_replica_unplugged_mid_calibration_is_said_with_its_point_and_that_nothing_was_saved(
    pistol: PistolEmulator,
) -> None:
    # nu20 #7: the cable pulled after the first point gave a raw "write failed: [Errno 5]".
    from range.cli.peripherals import _pull_after_attach

    stop = threading.Event()
    hands = threading.Thread(
        target=_pull_after_attach, args=(pistol, [0.2], False, stop), daemon=True
    )
    hands.start()

    def pull_the_cable() -> None:
        if pistol.session_opened.wait(5.0) and not stop.wait(0.6):
            pistol.unplug()

    cable = threading.Thread(target=pull_the_cable, daemon=True)
    cable.start()
    clock = MonotonicClock()
    try:
        with ReplicaLink(pistol.port, clock) as link, pytest.raises(PeripheralIOError) as gone:
            _bench(link, clock, 5.0).session(TARGETS)
    finally:
        stop.set()
        hands.join(timeout=2.0)
        cable.join(timeout=2.0)
    said = str(gone.value)
    assert "Errno" not in said and "\n" not in said
    assert said.startswith("pistol P-CAL5 was unplugged (or lost power) at point 2/4 (p1)")
    assert "after 1 trigger pull;" in said and "nothing was saved" in said
    assert "plug it back in and run the same command again" in said


# -- 11. certificate --json ----------------------------------------------------------------


def test_certificate_json_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # nu20 #11: `calibrate certificate --json` printed "certificate: c.html".
    _saved(tmp_path, "T7-0007", 10, 180)
    cert = tmp_path / "c.html"
    argv = ["calibrate", "certificate", "--device", "T7-0007", "--out", str(cert), "--json"]
    assert main([*argv, "--profiles", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["certificate"] == str(cert) and cert.is_file()
    assert shown["serial"] == "T7-0007" and shown["status"] == "valid" and shown["emulated"]


# -- 16. calibrate list ----------------------------------------------------------------------


def test_calibrate_list_shows_every_profile_with_its_dates_and_validity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu20 #16: there was no way to list the profiles (`calibrate list`: invalid choice).
    _saved(tmp_path, "T7-0007", 183, 182)  # expired yesterday
    _saved(tmp_path, "T7-0008", 10, 180)
    (tmp_path / "BAD-1.toml").write_text("version = 1\nserial = 'BAD-1'\n")
    today = datetime.now(UTC).date()
    assert main(["calibrate", "list", "--profiles", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"3 profiles in {tmp_path} (today is {today}):"
    assert out[1].split() == ["SERIAL", "MODEL", "ARMORER", "CALIBRATED", "EXPIRES", "STATUS"]
    rows = {line.split()[0]: line for line in out[2:5]}
    expired = (today - timedelta(days=1)).isoformat()
    assert "Sgt. Ortiz" in rows["T7-0007"] and expired in rows["T7-0007"]
    assert rows["T7-0007"].endswith("EXPIRED (emulated)")
    assert rows["T7-0008"].endswith("valid (emulated)") and "taser-7" in rows["T7-0008"]
    assert "REFUSED" in rows["BAD-1"]
    assert out[5].startswith(f"refused: {tmp_path / 'BAD-1.toml'}:1: model:")
    assert out[5].endswith("(and 8 more problems)") and len(out) == 6
    assert main(["calibrate", "list", "--profiles", str(tmp_path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    by = {p["serial"]: p for p in shown["profiles"]}
    assert by["T7-0007"]["status"] == "expired" and by["T7-0007"]["valid"] is False
    assert by["T7-0007"]["expires"] == expired and by["T7-0007"]["armorer"] == "Sgt. Ortiz"
    assert by["T7-0008"]["status"] == "valid" and by["T7-0008"]["model"] == "taser-7"
    assert by["BAD-1"]["status"] == "refused" and "BAD-1.toml" in by["BAD-1"]["why"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["calibrate", "list", "--profiles", str(empty)]) == 0
    assert capsys.readouterr().out.startswith(f"no calibration profiles in {empty}")
    assert main(["calibrate", "list", "--profiles", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


# -- 17. measured fields tied to what calibrate wrote ------------------------------------------


def test_a_hand_edit_of_a_measured_field_is_refused_naming_it_the_armorer_s_name_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu20 #17: `emulated = true` edited to false passed silently as a real replica's profile.
    _saved(tmp_path, "T7-0007", 10, 180)
    path = tmp_path / "T7-0007.toml"
    written = path.read_text()
    show = ["calibrate", "show", "--device", "T7-0007", "--profiles", str(tmp_path)]

    def edited(old: str, new: str, code: int) -> str:
        assert old in written
        path.write_text(written.replace(old, new))
        assert main(show) == code
        captured = capsys.readouterr()
        return captured.err.strip() if code else captured.out

    line = next(n for n, t in enumerate(written.splitlines(), 1) if t.startswith("emulated"))
    said = edited("emulated = true", "emulated = false", 2)
    assert said.startswith(f"openrange: {path}:{line}: emulated: false is not what `calibrate`")
    assert "edited by hand" in said and "\n" not in said
    lines = {t.split(" = ")[0]: t for t in written.splitlines() if " = " in t}
    assert "expires:" in edited(lines["expires"], "expires = 2099-01-01", 2)  # stretched
    assert "residual_mrad:" in edited(lines["residual_mrad"], "residual_mrad = 0.0", 2)
    # Correcting the armorer's name is the one edit a profile takes (its header says so).
    assert "calibrated by Sgt. J. Ortiz" in edited("Sgt. Ortiz", "Sgt. J. Ortiz", 0)
    # A profile from before digests still loads, as it stands.
    old = written.replace("emulated = true", "emulated = false")
    path.write_text("".join(t for t in old.splitlines(True) if not t.startswith("digest")))
    assert main(show) == 0 and "EMULATED" not in capsys.readouterr().out


# -- 18. bench targets files -----------------------------------------------------------------


def test_a_bench_file_with_repeated_names_points_behind_or_two_numbers_is_refused_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu20 #18: four points all named "a", two at x = -7 (behind the armorer), were accepted
    # and saved; a two-number position was said as "position_m[2]: required key is missing".
    bench = tmp_path / "bench.toml"
    points = [(3.0, 0.3, 1.2), (7.0, 0.3, 1.2), (-7.0, 0.3, 1.2), (-7.0, -0.3, 1.6)]
    text = "version = 1\n" + "".join(
        f'\n[[points]]\nname = "a"\nposition_m = [{x}, {y}, {z}]\n' for x, y, z in points
    )
    bench.write_text(text)
    argv = ["calibrate", "boresight", "--device", "X-1", "--model", "pistol", "--armorer", "A"]
    argv += ["--emulate", "--profiles", str(tmp_path), "--targets", str(bench)]
    assert main(argv) == 2
    said = capsys.readouterr().err.splitlines()
    assert (
        f"openrange: {bench}:8: points[1].name: 'a' is also the name of points[0]: each"
        in (said[0])
    )
    assert [s.split(": ")[2] for s in said] == [
        "points[1].name",
        "points[2].name",
        "points[3].name",
        "points[2].position_m",
        "points[3].position_m",
    ]
    assert f"{bench}:13: points[2].position_m: x = -7 m is not down the bench" in said[3]
    assert not (tmp_path / "X-1.toml").exists()
    bench.write_text(text.replace("[7.0, 0.3, 1.2]", "[7.0, 0.3]"))
    assert main(argv) == 2
    said = capsys.readouterr().err.splitlines()
    assert said[0] == (
        f"openrange: {bench}:9: points[1].position_m: 3 numbers are needed (x, y, z in metres),"
        " not 2"
    )
    assert not any("required key is missing" in s for s in said)
