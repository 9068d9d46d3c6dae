"""How a run says its devices' calibration was checked (run_started `calibration`), read where a
run is shown: the summary, `score`, the report and the records. No heavy imports: the records
read it without NumPy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drills.log import LogRecord

# A device check of a run with no calibration gate (a simulated run).
NOT_REQUIRED = "calibration not required (emulated replica)"

# How a device check says the device was used uncalibrated (never calibrated, or expired) on a
# range master's override: "never calibrated; used on the override of RM Lee".
OVERRIDE_WORDS = "; used on the override of "


def overridden(checks: object) -> list[str]:
    """Each device a run used without a valid calibration, on a range master's override, as
    one phrase ("T7-UNCAL: never calibrated; used on the override of RM Lee"), from the
    checks a run keeps (run_started `calibration`, a result's `calibration`); [] when every
    device was calibrated, or the checks are not a list of checks (an older record)."""
    if not isinstance(checks, list):
        return []
    return [
        f"{c.get('serial')}: {c.get('reason')}"
        for c in checks
        if isinstance(c, dict) and OVERRIDE_WORDS in str(c.get("reason", ""))
    ]


def uncalibrated(records: Sequence[LogRecord]) -> list[str]:
    """`overridden` for a run's log: each device it used without a valid calibration, on a
    range master's override, from its run_started `calibration` ([] for a log without one).
    The one reading behind `score`, its summary and the report (rv21b #2)."""
    from drills.log import run_started  # here: the records read this module without NumPy

    return overridden((run_started(records) or {}).get("calibration"))
