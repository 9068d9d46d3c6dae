"""Calibration profiles: one TOML file per replica serial, checked before a run.

A profile keeps what the armorer measured (boresight, trigger latency), by whom and when, and
when it expires; a run or a qualification attempt records which profile each device used.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from physics.datafiles import FieldError, StrictModel
from range.calibration.solver import (
    MAX_BORE_OFFSET_M,
    MIN_SAMPLES,
    Boresight,
    CalibrationError,
)
from range.calibration.used import NOT_REQUIRED, OVERRIDE_WORDS


def default_profiles_dir() -> Path:
    """Where profiles live: the user's data directory, one TOML file per serial."""
    import os

    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "openrange" / "calibration"


_SERIAL = re.compile(r"[^A-Za-z0-9_.-]")
# A device serial, as a profile is named by it: a letter or digit first (never "", ".", "..",
# nor a path), then letters, digits, '.', '_' or '-'; at most 64 characters.
SERIAL_RULE = "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"
SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def check_serial(serial: str) -> str:
    """`serial` if it can name a profile; ValueError saying what a serial may hold."""
    if not re.fullmatch(SERIAL_PATTERN, serial):
        raise ValueError(f"device serial {serial!r}: a serial is {SERIAL_RULE}")
    return serial


MAX_NAME_CHARS = 200


# A refused text longer than this is echoed by its start and its length, not whole (nu25 #11:
# a 5000-character --name filled the screen).
_ECHO_CHARS = 80


def _said(what: str, text: str) -> str:
    shown = repr(text)
    if len(text) > _ECHO_CHARS:
        shown = f"{text[: _ECHO_CHARS // 2]!r}... ({len(text)} characters)"
    return f"{what} {shown}" if what else shown


def check_text(text: str, what: str = "armorer") -> str:
    """Free text a record keeps (a name, an agency, a reason), possibly empty: refused with a
    ValueError when it holds a control character (a newline, an escape: it would corrupt a
    TOML profile or a printed roster), bytes that are not UTF-8 (argv decodes them to lone
    surrogates), or more than MAX_NAME_CHARS characters. Returns it without outer spaces."""
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"{_said(what, text)}: not valid UTF-8 text")
        if unicodedata.category(ch) == "Cc":
            raise ValueError(
                f"{_said(what, text)}: control characters (newline, tab, escape) are not allowed"
            )
    if len(text) > MAX_NAME_CHARS:
        raise ValueError(f"{_said(what, text)}: at most {MAX_NAME_CHARS} characters")
    return text.strip()


def check_name(name: str, what: str = "armorer") -> str:
    """A person's name as a record keeps it: not empty nor only spaces, and text a record can
    keep (check_text)."""
    if not name.strip():
        raise ValueError(f"{_said(what, name)}: a name is needed (not empty)")
    return check_text(name, what)


# What a profile may hold (docs/tracking.md): a tolerance an armorer can hold a replica to
# (10 mrad is 2.5 in at 7 yd), and a trigger-to-pose latency a replica can have (USB + a frame).
MAX_TOLERANCE_MRAD = 10.0
MAX_TRIGGER_LATENCY_S = 0.5
# How far from unit length a stored bore direction may be (rounding in the file).
_UNIT_SLACK = 1e-3


class CalibrationProfile(StrictModel):
    """One device's calibration, stored per serial number (docs/tracking.md)."""

    version: Literal[1]
    serial: str = Field(pattern=SERIAL_PATTERN)
    model: str
    armorer: str  # check_name: not empty nor only spaces, said in plain words (rc20 #9)
    calibrated: date
    expires: date
    # A point of the bore line (its point nearest the tracker), in the tracker's frame.
    bore_origin_m: tuple[float, float, float]
    bore_direction: tuple[float, float, float]
    residual_mrad: float = Field(ge=0.0)
    tolerance_mrad: float = Field(gt=0.0, le=MAX_TOLERANCE_MRAD)
    samples: int = Field(ge=MIN_SAMPLES)
    trigger_latency_s: float = Field(default=0.0, ge=0.0, le=MAX_TRIGGER_LATENCY_S)
    # The muzzle, in the tracker's frame, measured by touching it to the bench's reference
    # point (on the bore line); profiles from before have none (`Boresight.front_m`).
    muzzle_m: tuple[float, float, float] | None = None
    # Made on the bench emulator (`calibrate --emulate`), not measured on a replica: shown as
    # such (`calibrate show`, the certificate, a run's record) and never accepted for a real
    # replica, only for an emulated one (firmware EMULATOR_FIRMWARE). Older profiles: false.
    emulated: bool = False
    # What `calibrate` wrote, field by field (`measured_digest`): a hand edit of a measured
    # field (say `emulated = true` to false) is refused naming it. The armorer's name is not
    # in it: correcting it is the one edit a profile takes. Older profiles have none.
    digest: str | None = Field(default=None, pattern=r"^[0-9]+:[0-9a-f]{6}(-[0-9a-f]{6})*$")

    @field_validator("armorer")
    @classmethod
    def _armorer_is_a_name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("model")
    @classmethod
    def _a_replica_model(cls, v: str) -> str:
        from peripherals.messages import Model

        Model.from_slug(v)  # ValueError listing the known models
        if v not in [m.slug for m in Model]:
            raise ValueError(f"write the model as {Model.from_slug(v).slug!r}")
        return v

    @field_validator("bore_direction", mode="before")
    @classmethod
    def _a_direction(cls, v: Any) -> Any:
        """A direction's own problem, named before the generic size of its numbers: one that
        is not finite, or has zero length and so cannot be normalised."""
        if not isinstance(v, list | tuple) or len(v) != 3:
            return v
        if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in v):
            return v
        shown = "[" + ", ".join(f"{float(c):g}" for c in v) + "]"
        if not all(math.isfinite(c) for c in v):
            raise ValueError(f"{shown} is not finite: a direction is a unit vector")
        norm = math.hypot(*v)
        if not math.isfinite(norm):
            raise ValueError(f"{shown}: its length is not finite: a direction is a unit vector")
        if norm == 0.0 or not all(math.isfinite(c / norm) for c in v):
            raise ValueError(f"{shown} has zero length: it cannot be normalised into a direction")
        if abs(norm - 1.0) > _UNIT_SLACK:
            raise ValueError(f"a direction is a unit vector (the length of {shown} is {norm:.4g})")
        return v

    @model_validator(mode="after")
    def _measured_and_in_tolerance(self) -> CalibrationProfile:
        """A profile that could never have come out of `calibrate`: refused by field."""
        offset = math.hypot(*self.bore_origin_m)
        if offset > MAX_BORE_OFFSET_M:
            raise FieldError(
                ("bore_origin_m",),
                f"{offset:.3g} m from the tracker: a bore origin lies within"
                f" {MAX_BORE_OFFSET_M:g} m of the tracker on the replica",
            )
        if self.muzzle_m is not None:
            from range.calibration.solver import MAX_MUZZLE_OFF_LINE_M

            if math.hypot(*self.muzzle_m) > MAX_BORE_OFFSET_M:
                raise FieldError(
                    ("muzzle_m",),
                    f"{math.hypot(*self.muzzle_m):.3g} m from the tracker: a muzzle lies within"
                    f" {MAX_BORE_OFFSET_M:g} m of the tracker on the replica",
                )
            rel = [m - o for m, o in zip(self.muzzle_m, self.bore_origin_m, strict=True)]
            norm = math.hypot(*self.bore_direction)
            along = sum(r * d for r, d in zip(rel, self.bore_direction, strict=True)) / norm
            off = math.sqrt(max(0.0, sum(r * r for r in rel) - along * along))
            if off > MAX_MUZZLE_OFF_LINE_M:
                raise FieldError(
                    ("muzzle_m",),
                    f"{off * 100:.2g} cm off the bore line: a measured muzzle lies on it",
                )
        if not 0.0 < self.tolerance_mrad <= MAX_TOLERANCE_MRAD:
            raise FieldError(
                ("tolerance_mrad",),
                f"{self.tolerance_mrad:g} mrad: allowed more than 0 to {MAX_TOLERANCE_MRAD:g}",
            )
        if self.residual_mrad > self.tolerance_mrad:
            raise FieldError(
                ("residual_mrad",),
                f"{self.residual_mrad:g} mrad is beyond the profile's tolerance"
                f" ({self.tolerance_mrad:g} mrad): such a bore is refused, never saved",
            )
        if not 0.0 <= self.trigger_latency_s <= MAX_TRIGGER_LATENCY_S:
            raise FieldError(
                ("trigger_latency_s",),
                f"{self.trigger_latency_s:g} s: allowed 0 to {MAX_TRIGGER_LATENCY_S:g} s",
            )
        if self.expires < self.calibrated:
            raise FieldError(
                ("expires",), f"{self.expires} is before the calibration ({self.calibrated})"
            )
        if self.digest is not None:
            self._as_written(self.digest)
        return self

    def _as_written(self, digest: str) -> None:
        """Each measured field as `calibrate` wrote it, by its digest; a removed `muzzle_m` is
        taken (the profile then reads as one from before muzzle touches, docs/tracking.md)."""
        version, _, parts = digest.partition(":")
        said = parts.split("-")
        if version != "1" or len(said) != len(MEASURED_FIELDS):
            raise FieldError(
                ("digest",),
                f"{digest!r} is not a digest this OpenRange writes: calibrate the replica again",
            )
        for name, expected in zip(MEASURED_FIELDS, said, strict=True):
            if name == "muzzle_m" and self.muzzle_m is None:
                continue
            if _field_digest(self, name) != expected:
                raise FieldError(
                    (name,),
                    f"{_shown(getattr(self, name))} is not what `calibrate` wrote (the file's"
                    " digest says otherwise): a measured field was edited by hand; only the"
                    " armorer's name may be corrected: calibrate the replica again"
                    f" (`{boresight_command(self.serial, self.model, emulated=self.emulated)}`)",
                )

    @property
    def boresight(self) -> Boresight:
        return Boresight(
            self.bore_origin_m,
            self.bore_direction,
            self.residual_mrad,
            self.samples,
            (),
            self.muzzle_m,
        )

    def valid_on(self, day: date) -> bool:
        return self.calibrated <= day <= self.expires


# The fields a profile's digest covers: all but `version`, `armorer` (the one correctable by
# hand), `serial` (checked against the file's name) and the digest itself; in this order
# (digest version 1).
MEASURED_FIELDS = (
    "model",
    "calibrated",
    "expires",
    "bore_origin_m",
    "bore_direction",
    "residual_mrad",
    "tolerance_mrad",
    "samples",
    "trigger_latency_s",
    "muzzle_m",
    "emulated",
)


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _field_digest(profile: CalibrationProfile, name: str) -> str:
    """Six hex digits of SHA-256 over the field's name and its value as JSON: a check against
    hand edits, not a signature (anyone may recompute it). The serial is not in it: a file
    copied under another serial's name is refused by its `serial` (`load_profile`)."""
    import hashlib

    value = profile.model_dump(mode="json", include={name})[name]
    text = json.dumps([name, value], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def measured_digest(profile: CalibrationProfile) -> str:
    """The digest `save_profile` writes: "1:" then each MEASURED_FIELDS field's, dash-joined."""
    return "1:" + "-".join(_field_digest(profile, name) for name in MEASURED_FIELDS)


def profile_path(folder: Path, serial: str) -> Path:
    return folder / f"{_SERIAL.sub('_', serial)}.toml"


def save_profile(folder: Path, profile: CalibrationProfile) -> Path:
    """Write a profile as TOML (atomically: a half-written profile never exists; a full disk
    is one OSError naming the file)."""
    from range import outfile

    folder.mkdir(parents=True, exist_ok=True)
    path = profile_path(folder, profile.serial)
    outfile.write_text(path, profile_text(profile))
    return path


def profile_text(profile: CalibrationProfile) -> str:
    """A profile as the TOML file `save_profile` writes."""

    def value(v: object) -> str:
        if isinstance(v, str):
            # JSON's string escapes are TOML basic-string escapes; DEL must be escaped in TOML.
            return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
        if isinstance(v, tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v)
        return str(v)

    lines = [
        "# OpenRange calibration profile (docs/tracking.md). Written by"
        " `openrange calibrate`; edit only to correct the armorer's name (`digest` ties every"
        " other field to what was measured: an edit of one is refused)."
    ]
    lines += [
        f"{key} = {value(getattr(profile, key))}"
        for key in CalibrationProfile.model_fields
        if key != "digest"
        and getattr(profile, key) is not None  # TOML has no null: an unmeasured muzzle is left out
    ]
    # Written fresh for what is written (a latency saved into a profile changes its digest).
    lines.append(f"digest = {value(measured_digest(profile))}")
    return "\n".join(lines) + "\n"


def boresight_command(serial: str, model: str | None, *, emulated: bool) -> str:
    """The `calibrate boresight` that makes device `serial` a profile, as it can be typed once
    NAME (the armorer; required) is filled in: an emulated replica's on the bench emulator
    with its `model` given (the bench does not ask the replica, and a running emulator is
    found only where `scan` looks; MODEL when not known); a real one's on its port (PORT),
    which says its model."""
    if emulated:
        return (
            f"openrange calibrate boresight --device {serial} --emulate"
            f" --model {model or 'MODEL'} --armorer NAME"
        )
    return f"openrange calibrate boresight --device {serial} --port PORT --armorer NAME"


# A profile is some 800 bytes; past this, a file in the profiles folder is no profile (and is
# not read whole: a 200 MB one, or a link to /dev/zero, would fill the memory).
MAX_PROFILE_BYTES = 64 * 1024


def _profile_text(path: Path) -> str:
    """The text of profile file `path`: only a regular file of at most MAX_PROFILE_BYTES is read
    (a FIFO would block for ever, a device never end); anything else is a DataFileError saying
    what it is (rc20 #4; physics.datafiles.read_text)."""
    from physics.datafiles import read_text

    return read_text(path, MAX_PROFILE_BYTES, "a profile")


def _broken_link(path: Path) -> str:
    """What is wrong with link `path`, which leads to no file: a broken link (its target
    missing: a shared drive not mounted?) or a link that loops."""
    import errno
    import os

    target = os.readlink(path)
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"a link that loops (to {target}): no profile can be read through it"
    return (
        f"a broken link (to {target}, which does not exist: a shared drive not mounted?):"
        " mount or restore it, or remove the link"
    )


def load_profile(
    folder: Path,
    serial: str,
    today: date | None = None,
    model: str | None = None,
    emulated: bool | None = None,
) -> CalibrationProfile | None:
    """The profile of device `serial`, or None. A profile whose serial is not the device's
    (a file copied under another name) or (with `today`) calibrated in the future is refused
    in one line naming the file, line and field; so is (with `model`, the model the replica
    reports) one of another model, and (with `emulated` False: a real replica) one made on
    the bench emulator."""
    from physics.datafiles import DataFileError, Problem, key_lines, parse_model

    path = profile_path(folder, serial)
    if not path.exists():
        if path.is_symlink():  # rc20 #6: not "never calibrated", which would be wrong
            raise DataFileError(path, [Problem(None, "", _broken_link(path))])
        return None
    text = _profile_text(path)
    profile = parse_model(text, CalibrationProfile, path)
    lines = key_lines(text)
    if profile.serial != serial:
        problem = f"{profile.serial!r} is not device {serial!r}: this file is not its profile"
        raise DataFileError(path, [Problem(lines.get(("serial",)), "serial", problem)])
    if today is not None and profile.calibrated > today:
        problem = f"{profile.calibrated} is in the future (today is {today})"
        raise DataFileError(path, [Problem(lines.get(("calibrated",)), "calibrated", problem)])
    if model is not None and profile.model != model:
        problem = (
            f"{profile.model!r} is not the replica's model: {serial} reports {model}; calibrate"
            f" it again: `{boresight_command(serial, model, emulated=bool(emulated))}`"
        )
        raise DataFileError(path, [Problem(lines.get(("model",)), "model", problem)])
    if emulated is False and profile.emulated:
        command = boresight_command(serial, model, emulated=False)
        problem = (
            f"made on the bench emulator (`calibrate --emulate`), not measured on {serial}: a"
            f" real replica needs a bench calibration (`{command}`)"
        )
        raise DataFileError(path, [Problem(lines.get(("emulated",)), "emulated", problem)])
    return profile


def new_profile(
    serial: str,
    model: str,
    armorer: str,
    bore: Boresight,
    tolerance_mrad: float,
    today: date,
    valid_days: int = 180,
    latency_s: float = 0.0,
    emulated: bool = False,
) -> CalibrationProfile:
    return CalibrationProfile(
        version=1,
        serial=serial,
        model=model,
        armorer=armorer,
        calibrated=today,
        expires=today + timedelta(days=valid_days),
        bore_origin_m=bore.origin_m,
        bore_direction=bore.direction,
        residual_mrad=round(bore.residual_mrad, 4),
        tolerance_mrad=tolerance_mrad,
        samples=bore.used,
        trigger_latency_s=latency_s,
        muzzle_m=bore.muzzle_m,
        emulated=emulated,
    )


@dataclass(frozen=True, slots=True)
class DeviceCheck:
    serial: str
    allowed: bool
    reason: str
    profile: CalibrationProfile | None = None


# What a replica reports of itself, by serial: its model's slug and whether it is an emulator
# (is_emulated of its firmware). A serial not in it is checked as a real replica of any model.
Reported = Mapping[str, tuple[str, bool]]


def check_devices(
    folder: Path,
    serials: Sequence[str],
    today: date,
    *,
    override_by: str | None = None,
    reported: Reported | None = None,
) -> list[DeviceCheck]:
    """May these devices be used in a drill today? An uncalibrated or expired device is refused
    unless the range master overrides; the override is said, so the run records it. A profile
    of another model than the replica reports, or an emulator-made one for a real replica, is
    refused by file, line and field (DataFileError), override or not."""
    out = []
    for serial in serials:
        model, emulated = (reported or {}).get(serial, (None, False))
        profile = load_profile(folder, serial, today, model=model, emulated=emulated)
        if profile is not None and profile.valid_on(today):
            bench = " on the bench emulator" if profile.emulated else ""
            said = f"calibrated{bench} until {profile.expires}"
            out.append(DeviceCheck(serial, True, said, profile))
            continue
        why = "never calibrated" if profile is None else f"calibration expired {profile.expires}"
        if override_by:
            used = f"{why}{OVERRIDE_WORDS}{override_by}"
            out.append(DeviceCheck(serial, True, used, profile))
        else:
            # An emulator takes an emulator's profile (docs/tracking.md "Emulated replicas").
            how = f"`{boresight_command(serial, model, emulated=emulated)}`" + (
                ": an emulated replica takes a bench emulator's profile" if emulated else ""
            )
            out.append(
                DeviceCheck(
                    serial, False, f"{why}: calibrate it ({how}) or have a range master override"
                )
            )
    return out


# What a run's record keeps of each device's profile.
RECORDED_PROFILE_FIELDS = {
    "armorer",
    "emulated",
    "calibrated",
    "expires",
    "residual_mrad",
    "tolerance_mrad",
    "trigger_latency_s",
}


def calibration_for_run(
    serials: Sequence[str],
    *,
    required: bool,
    folder: Path | None = None,
    today: date | None = None,
    override_by: str | None = None,
    reported: Reported | None = None,
) -> list[dict[str, Any]]:
    """What a drill or course attempt records about its devices' calibration: for each serial,
    whether it was allowed, why, and the profile it was used with (armorer, dates, residual,
    trigger latency). Raises CalibrationError naming every refused device."""
    if not required:
        return [{"serial": s, "allowed": True, "reason": NOT_REQUIRED} for s in serials]
    checks = check_devices(
        folder or default_profiles_dir(),
        serials,
        today or date.today(),
        override_by=override_by,
        reported=reported,
    )
    refused = [c for c in checks if not c.allowed]
    if refused:
        raise CalibrationError("; ".join(f"{c.serial}: {c.reason}" for c in refused))
    out: list[dict[str, Any]] = []
    for c in checks:
        entry: dict[str, Any] = {"serial": c.serial, "allowed": c.allowed, "reason": c.reason}
        if c.profile is not None:
            entry["profile"] = c.profile.model_dump(mode="json", include=RECORDED_PROFILE_FIELDS)
        out.append(entry)
    return out
