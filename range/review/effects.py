"""TASER wires, muzzle flashes and impacts, read from a run's log and drawn by one piece of code
in the review render (`range.review.mirror.scene_at`, reports, PNG replays), the replay window
(`Playback`) and the headset (`range.xr.lane.LaneHeadset`, whose renderer the live mirror shows).

A wire runs from the cartridge to each probe of a device's latest deployment: it grows along the
probe's flight (run time t from the trigger to `time_of_flight_s`), and stays until the same
device's next deployment, which the drill engine takes as ending the circuit through the old
probes (drills/engine.py `probes`). A probe in a subject follows the subject's movement on the
floor since the impact (the logged positions). The cartridge end is where the TASER was fired
from, or where the replica is now when the headset knows it. A muzzle flash is drawn at every
firearm shot's muzzle for FLASH_S of run time. A TASER's arc (an ARC press, or a trigger pull
with no cartridge left: the device's `arc_switch`) is drawn at its front while it arcs: from the
press until the trigger or ARC is let go or the device's cycle ends (`arcing`), whether or not
the front touched anyone.

An impact is marked where it struck: a probe (yellow) or a round's first strike (red) as a lit
marker; what a round struck after going through what it hit first (a `bullet_strike`:
over-penetration, a car door -> the driver, a torso -> a bystander) as an unlit magenta marker
with the round's onward path from the strike before it, so the debrief shows where it went on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from drills.log import LogRecord
from physics.body import SubjectBody
from physics.human import SEGMENTS, HumanPose
from physics.pose import Pose, quat_to_matrix, yaw_quat
from range.review.render import COLOURS, Renderer, Scene

XYZ = tuple[float, float, float]

# Drawn wider than the real ~0.1 mm wire so that it covers about one headset pixel at duty
# distances (2 x 1440 px over ~100 deg: ~5 mm at 3 m); unlit, so it reads by day and at night.
WIRE_HALF_WIDTH_M = 0.003
WIRE_RGB = (0.95, 0.62, 0.22)  # copper, as the conductor shows through the clear insulation
# A flash lasts a few milliseconds; drawn for FLASH_S (4-5 frames at 90 Hz) so it is seen.
FLASH_S = 0.05
FLASH_HALF_M = (0.05, 0.025, 0.025)  # along the bore, across, up
FLASH_AHEAD_M = 0.06  # the flash's centre ahead of the muzzle, along the bore
FLASH_RGB = (1.0, 0.9, 0.45)
# What a round struck after going through what it hit first: unlit magenta (unlike the red of
# a first strike, the yellow of a probe, and any clothing), with its onward path.
STRIKE_RGB = (1.0, 0.15, 0.85)
STRIKE_PATH_HALF_WIDTH_M = 0.004
MARKER_M = 0.025  # an impact marker's half-size
# A TASER's arc across the front electrodes (DRIVE_STUN_ELECTRODES_IN, 1.5 in, apart): a
# blue-white spark just ahead of the front, as wide as their spacing and tall enough to show
# over the replica's top from the officer's eyes.
ARC_HALF_M = (0.01, 0.02, 0.025)
ARC_AHEAD_M = 0.02
ARC_RGB = (0.75, 0.85, 1.0)
HIDDEN = np.diag([0.0, 0.0, 0.0, 1.0]).astype("f4")  # a prop squashed to nothing


@dataclass(frozen=True, slots=True)
class Wire:
    """One probe's wire: `cartridge_m` and `probe_m` world points (metres), which device."""

    serial: str | None
    probe: int
    cartridge_m: XYZ
    probe_m: XYZ


ImpactKind = Literal["probe", "bullet", "strike"]
# Where a hit logged on a subject's segment is now: (target, segment, offset) -> world point,
# None when that subject is not drawn.
OnBody = Callable[[str, str, XYZ], XYZ | None]


@dataclass(frozen=True, slots=True)
class Impact:
    """One mark: a probe (`probe`), a round's first strike (`bullet`) or what it struck after
    going through (`strike`), at run time `t`; a strike's round came on from `came_from_m`
    (the strike before it), None when the log has none."""

    t: float
    kind: ImpactKind
    point_m: XYZ
    target: str | None = None
    came_from_m: XYZ | None = None
    # On a subject (logs that keep it): the segment struck and the offset from its joint in
    # the segment's frame; a review draws the marker there on the posed body each frame.
    segment: str | None = None
    segment_offset_m: XYZ | None = None


def _xyz(values: Sequence[float] | NDArray[np.float64]) -> XYZ:
    return (float(values[0]), float(values[1]), float(values[2]))


def _on_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """A hit record's segment and offset as Impact fields (none in logs before they were kept)."""
    offset = data.get("segment_offset_m")
    if data.get("segment") is None or offset is None:
        return {}
    return {"segment": str(data["segment"]), "segment_offset_m": _xyz(offset)}


class EffectLog:
    """What the wires and flashes need from a run's log, read incrementally: `feed` the records
    (a live run's growing list, or a saved run's) up to run time t, then ask `wires(t)` and
    `flashes(t)`. Each record is read once, so a frame costs the records new since the last."""

    def __init__(self) -> None:
        self._seen = 0
        self._fired: dict[tuple[Any, Any], XYZ] = {}  # (serial, bay) -> cartridge muzzle
        # serial -> (its latest probe_impacts, fired from, subjects' positions at the impact)
        self._latest: dict[Any, tuple[LogRecord, XYZ, dict[str, tuple[float, float]]]] = {}
        self._where: dict[str, tuple[float, float]] = {}
        self._shots: list[tuple[float, Pose]] = []
        self.impacts: list[Impact] = []  # every impact so far, in log order
        self._round: XYZ | None = None  # where the latest round last struck
        self._arcing: set[str] = set()  # TASER serials arcing at the front now

    def feed(self, records: Sequence[LogRecord], t: float) -> None:
        """Read `records[i:]` (in time order) up to run time `t`."""
        while self._seen < len(records) and records[self._seen].t <= t + 1e-9:
            r = records[self._seen]
            self._seen += 1
            data = r.data
            if r.kind == "positions":
                self._where = {k: (float(v[0]), float(v[1])) for k, v in data["subjects"].items()}
            elif r.kind == "officer_action" and data.get("muzzle") is not None:
                muzzle = data["muzzle"]
                if data.get("action") == "taser_fired":
                    self._fired[(data.get("serial"), data.get("bay"))] = _xyz(muzzle["position_m"])
                elif data.get("action") == "firearm_fired":
                    q = muzzle["orientation"]
                    pose = Pose(_xyz(muzzle["position_m"]), (q[0], q[1], q[2], q[3]))
                    self._shots.append((r.t, pose))
            elif r.kind == "device_event":
                event, serial = data.get("event"), str(data.get("serial"))
                if event == "arc_switch":
                    self._arcing.add(serial)
                elif event in ("trigger_released", "cycle_ended", "safety_on"):
                    self._arcing.discard(serial)
            elif r.kind == "probe_impacts":
                fired = self._fired.get((data.get("serial"), data.get("bay")))
                if fired is not None:
                    self._latest[data.get("serial")] = (r, fired, dict(self._where))
                for i in data["impacts"]:
                    self.impacts.append(
                        Impact(r.t, "probe", _xyz(i["point"]), i.get("target"), **_on_body(i))
                    )
            elif r.kind == "bullet_impact":
                self._round = _xyz(data["point"])
                self.impacts.append(
                    Impact(r.t, "bullet", self._round, data.get("target"), **_on_body(data))
                )
            elif r.kind == "bullet_strike":
                point = _xyz(data["point"])
                came = self._round
                self.impacts.append(
                    Impact(r.t, "strike", point, data.get("target"), came, **_on_body(data))
                )
                self._round = point

    def wires(
        self,
        t: float,
        subjects_now: Mapping[str, tuple[float, float]] | None = None,
        cartridges_now: Mapping[str | None, XYZ] | None = None,
        on_body: OnBody | None = None,
    ) -> list[Wire]:
        """The wires at run time `t`. `subjects_now` gives subjects' floor positions at t
        (default: the last logged positions); `cartridges_now` the cartridge's point per device
        serial (default: the muzzle it was fired from); `on_body(target, segment, offset)`
        where a probe logged on a segment is on the posed body now (None: not drawn), so the
        wire ends on the marker (`BodyMarkers.point`)."""
        now = self._where if subjects_now is None else subjects_now
        wires = []
        for serial, (r, fired, then) in self._latest.items():
            muzzle = np.asarray(fired, dtype=float)
            start = muzzle
            if cartridges_now is not None and serial in cartridges_now:
                start = np.asarray(cartridges_now[serial], dtype=float)
            for impact in r.data["impacts"]:
                point = np.asarray(impact["point"], dtype=float)
                target = impact.get("target")
                anchor = _on_body(impact)
                placed = None
                if on_body is not None and anchor and target is not None:
                    placed = on_body(target, anchor["segment"], anchor["segment_offset_m"])
                if placed is not None:
                    point = np.asarray(placed, dtype=float)
                elif target in then and target in now:
                    point[:2] += np.subtract(now[target], then[target])
                flight_s = float(impact["time_of_flight_s"])
                if flight_s > 0 and t < r.t + flight_s:  # still flying: the wire pays out
                    point = muzzle + (point - muzzle) * max(0.0, (t - r.t) / flight_s)
                wires.append(Wire(serial, int(impact["probe"]), _xyz(start), _xyz(point)))
        return wires

    def arcing(self, serial: str) -> bool:
        """Whether TASER `serial` arcs at its front as of the records fed (an ARC press not
        yet let go, its cycle not yet ended)."""
        return serial in self._arcing

    def flashes(self, t: float) -> list[Pose]:
        """The muzzles (+X along the bore) of firearm shots fired within FLASH_S before `t`."""
        self._shots = [(at, pose) for at, pose in self._shots if t - at < FLASH_S]
        return [pose for at, pose in self._shots if at <= t + 1e-9]


def wires_at(
    records: Sequence[LogRecord],
    t: float,
    subjects_now: Mapping[str, tuple[float, float]] | None = None,
    cartridges_now: Mapping[str | None, XYZ] | None = None,
) -> list[Wire]:
    """The wires to draw at run time `t` from a whole run's records (EffectLog.wires)."""
    log = EffectLog()
    log.feed(records, t)
    return log.wires(t, subjects_now, cartridges_now)


def flashes_at(records: Sequence[LogRecord], t: float) -> list[Pose]:
    """The muzzle flashes at run time `t` from a whole run's records (EffectLog.flashes)."""
    log = EffectLog()
    log.feed(records, t)
    return log.flashes(t)


def impacts_at(records: Sequence[LogRecord], t: float) -> list[Impact]:
    """Every impact up to run time `t` from a whole run's records (EffectLog.impacts)."""
    log = EffectLog()
    log.feed(records, t)
    return log.impacts


def impact_json(impact: Impact) -> dict[str, Any]:
    """An impact as JSON (a lane's state frame, a saved run's state for the console's view)."""
    return {
        "t": round(impact.t, 3),
        "kind": impact.kind,
        "point_m": list(impact.point_m),
        "target": impact.target,
        "came_from_m": None if impact.came_from_m is None else list(impact.came_from_m),
    } | _on_body_json(impact)


def _on_body_json(impact: Impact) -> dict[str, Any]:
    if impact.segment is None or impact.segment_offset_m is None:
        return {}
    return {"segment": impact.segment, "segment_offset_m": list(impact.segment_offset_m)}


def impact_from_json(data: Mapping[str, Any]) -> Impact:
    came = data.get("came_from_m")
    return Impact(
        float(data.get("t", 0.0)),
        data["kind"],
        _xyz(data["point_m"]),
        data.get("target"),
        None if came is None else _xyz(came),
        **_on_body(data),
    )


def draw_marker(scene: Scene, kind: ImpactKind, point_m: XYZ, marker_m: float = MARKER_M) -> None:
    """An impact's marker alone at `point_m` (a prop's origin for one kept on a body)."""
    if kind == "strike":
        scene.box(point_m, (marker_m, marker_m, marker_m), STRIKE_RGB, emissive=True)
    else:
        scene.marker(point_m, COLOURS["probe" if kind == "probe" else "bullet"], marker_m)


def draw_impact(
    scene: Scene, impact: Impact, marker_m: float = MARKER_M, marker: bool = True
) -> None:
    """One impact's marker (and a strike's onward path) into a scene; `marker` False: the
    path only (the marker is a prop kept on the posed body: `BodyMarkers`)."""
    if marker:
        draw_marker(scene, impact.kind, impact.point_m, marker_m)
    if impact.kind == "strike" and impact.came_from_m is not None:
        scene.path(
            impact.came_from_m,
            impact.point_m,
            STRIKE_RGB,
            STRIKE_PATH_HALF_WIDTH_M,
            emissive=True,
        )


def draw_impacts(
    scene: Scene,
    impacts: Sequence[Impact],
    marker_m: float = MARKER_M,
    on_bodies: frozenset[int] = frozenset(),
) -> None:
    """Every impact into a scene; those numbered in `on_bodies` without their marker (drawn
    on the posed body instead: `BodyMarkers`)."""
    for n, impact in enumerate(impacts):
        draw_impact(scene, impact, marker_m, marker=n not in on_bodies)


def on_posed_body(
    body: SubjectBody,
    pose: HumanPose | None,
    feet: XYZ,
    yaw_rad: float,
    segment: str,
    offset_m: XYZ,
) -> XYZ:
    """Where `offset_m` on `segment` of `body` lies in the world with the body in `pose` (its
    stance's when None), feet at `feet` facing `yaw_rad`: the same transform the renderer's
    bones apply (a scene drawn without a renderer's rigs: the console's view)."""
    posed = body.posed(pose)
    j = SEGMENTS.index(segment)
    yaw = quat_to_matrix(yaw_quat(yaw_rad))
    local = posed.position[j] + posed.rotation[j] @ np.asarray(offset_m)
    return _xyz(np.asarray(feet) + yaw @ local)


class BodyMarkers:
    """Impact markers kept on the posed bodies of a renderer's subjects: each impact that
    names a segment and an offset on a subject the renderer draws is a prop (uploaded once)
    placed every frame at that segment's bone (`Renderer.segment_frame`) carried by the
    offset, so a probe stays where it struck as the subject walks, falls or kneels. Impacts
    from logs without the fields, or on a subject not drawn, stay at their logged point."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self._keys: dict[int, str] = {}  # impact number -> prop key

    def anchored(self, impacts: Sequence[Impact]) -> frozenset[int]:
        """The impacts (by number) that ride on a drawn subject's segment."""
        drawn = self.renderer.subjects
        return frozenset(
            n
            for n, impact in enumerate(impacts)
            if impact.segment is not None
            and impact.segment_offset_m is not None
            and impact.target in drawn
        )

    def point(self, target: str, segment: str, offset_m: XYZ) -> XYZ | None:
        """Where `offset_m` on a drawn subject's segment is as posed now (an `OnBody`)."""
        if target not in self.renderer.subjects:
            return None
        bone = self.renderer.segment_frame(target, segment)
        return _xyz(bone[:3, :3] @ np.asarray(offset_m) + bone[:3, 3])

    def update(
        self,
        impacts: Sequence[Impact],
        marker_m: float = MARKER_M,
        numbers: Iterable[int] | None = None,
    ) -> None:
        """Place the markers of the anchored impacts (of those numbered in `numbers`, when
        given) at their segments as the subjects are posed now (call after posing them); new
        ones are uploaded once."""
        anchored = self.anchored(impacts)
        if numbers is not None:
            anchored = anchored & frozenset(numbers)
        for n in sorted(anchored):
            impact = impacts[n]
            assert impact.target is not None and impact.segment is not None
            key = self._keys.get(n)
            if key is None:
                key = self._keys[n] = f"impact-marker-{n}"
                scene = Scene()
                draw_marker(scene, impact.kind, (0.0, 0.0, 0.0), marker_m)
                self.renderer.add_prop(key, scene)
            bone = self.renderer.segment_frame(impact.target, impact.segment)
            place = np.eye(4, dtype="f4")
            place[:3, :3] = bone[:3, :3]
            place[:3, 3] = bone[:3, :3] @ np.asarray(impact.segment_offset_m) + bone[:3, 3]
            self.renderer.place_prop(key, place)


def _flash_centre(muzzle: Pose) -> tuple[XYZ, Any]:
    rot = quat_to_matrix(muzzle.orientation)
    centre = np.asarray(muzzle.position_m, dtype=float) + rot[:, 0] * FLASH_AHEAD_M
    return _xyz(centre), rot


def flash_point(muzzle: Pose) -> XYZ:
    """Where a flash's centre is drawn for a muzzle pose (for tests and reports)."""
    return _flash_centre(muzzle)[0]


def draw_effects(scene: Scene, wires: Sequence[Wire], flashes: Sequence[Pose]) -> None:
    """Add the wires and flashes to a static scene (the review render)."""
    for wire in wires:
        scene.path(wire.cartridge_m, wire.probe_m, WIRE_RGB, WIRE_HALF_WIDTH_M, emissive=True)
    for muzzle in flashes:
        centre, rot = _flash_centre(muzzle)
        scene.box(centre, FLASH_HALF_M, FLASH_RGB, rot, emissive=True)


class EffectProps:
    """Wires and flashes as renderer props (the headset, the replay window): a unit wire and a
    flash uploaded once per slot, moved and stretched by one matrix a frame, never rebuilt."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self._wires = 0
        self._flashes = 0

    def update(self, wires: Sequence[Wire], flashes: Sequence[Pose]) -> None:
        renderer = self.renderer
        while self._wires < len(wires):
            unit = Scene()
            unit.path((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), WIRE_RGB, WIRE_HALF_WIDTH_M, emissive=True)
            renderer.add_prop(f"wire:{self._wires}", unit)
            self._wires += 1
        while self._flashes < len(flashes):
            unit = Scene()
            unit.box((0.0, 0.0, 0.0), FLASH_HALF_M, FLASH_RGB, emissive=True)
            renderer.add_prop(f"flash:{self._flashes}", unit)
            self._flashes += 1
        for i in range(self._wires):
            matrix = HIDDEN
            if i < len(wires):
                matrix = _stretch(wires[i].cartridge_m, wires[i].probe_m)
            renderer.place_prop(f"wire:{i}", matrix)
        for i in range(self._flashes):
            matrix = HIDDEN
            if i < len(flashes):
                centre, rot = _flash_centre(flashes[i])
                matrix = np.eye(4, dtype="f4")
                matrix[:3, :3] = rot
                matrix[:3, 3] = centre
            renderer.place_prop(f"flash:{i}", matrix)


def _stretch(start: XYZ, end: XYZ) -> Any:
    """The matrix taking the unit wire (0..1 along X) onto start..end: X stretched to the
    length, the cross-section kept."""
    a, b = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    d = b - a
    length = float(np.linalg.norm(d))
    if length < 1e-9:
        return HIDDEN
    x = d / length
    helper = np.array([0.0, 0.0, 1.0]) if abs(x[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    y = np.cross(helper, x)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    matrix = np.eye(4, dtype="f4")
    matrix[:3, 0] = x * length
    matrix[:3, 1] = y
    matrix[:3, 2] = z
    matrix[:3, 3] = a
    return matrix
