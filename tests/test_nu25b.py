"""nu25 (an IT administrator and range master, records on SQLite and PostgreSQL): console
attempts dated when fired, the console while the store is down, what a run cut by the store
says, store URLs, `verify --json`, exit statuses. In-process calls on real stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from range.records.store import Records


def _officer(url: str, badge: str = "4411") -> None:
    with Records.open(url) as records:
        records.add_officer(badge, "J. Rivera", "Metro PD")


def test_a_console_attempt_is_dated_when_fired_and_a_late_retry_keeps_the_date(
    tmp_path: Path,
) -> None:
    """nu25 #3: a console attempt was dated when the console recorded it (started ==
    finished, the time of recording), so a Retry a day after an outage dated the
    qualification, and its 365-day expiry, on that day. The lane now carries when it was
    fired in its result, and the console records that."""
    from range.console.app import Console
    from range.console.lane import LaneProcess

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    _officer(url)
    lane = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, tmp_path / "lane-runs", speed=None)
    args = {"course": "taser7-practical-v1", "badge": "4411", "shooter": "qualified", "seed": "5"}
    lane._run_course({"by": "rm1"}, args)  # type: ignore[arg-type]
    (result,) = lane.finished
    assert result["started"].endswith("+00:00") and result["finished"] >= result["started"]
    # Held "Not recorded" while the store was down, and recorded by Retry a day later: the
    # record keeps when it was fired (shifted back a day here, as if fired yesterday).
    fired: dict[str, Any] = dict(result)
    fired.update(started="2026-12-01T01:34:03+00:00", finished="2026-12-01T01:34:17+00:00")
    Console(url, runs_dir=tmp_path / "console-runs")._course_finished("LANE1", fired)
    with Records.open(url) as records:
        (row,) = records.qualifications("4411")
        assert (row["started"], row["finished"]) == (fired["started"], fired["finished"])
        assert records.verify() == []

