"""Replays from any eyes: a saved run seen as the officer, a subject or a bystander saw it
(perspective-taking in the debrief), at that person's eye height and gaze, from the log's
positions and phases.

The scene is the mirror's `Playback` (subjects animated from the log, posed by transforms),
with the officer's body drawn and the viewer's own body left out. PNG frames need no display
(EGL); the mirror window and the headset play the same frames live.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drills.log import LogRecord
from drills.schema import Drill, Subject
from physics.body import Stance, SubjectBody
from physics.pose import Pose, look_rotation, matrix_to_quat, quat_to_matrix, yaw_quat
from physics.units import FT_M
from range.review.mirror import HEAD_HEIGHT_M, Playback
from range.review.render import Renderer

OFFICER_HEAD_M = 1.6  # where a subject looks: the officer's face, a little below the eyes
# A bystander who is not in the drill: on the lane's side, this far in from the wall and this
# far behind the officer, at a standing adult's eye height, watching the middle of the
# encounter (both people in view, seen from the side).
BYSTANDER_INSET_M = 0.6
BYSTANDER_BACK_M = 1.5
BYSTANDER_EYE_M = 1.6
# A bystander watches the encounter: the middle of the officer and the subjects, at chest
# height, when they all lie within this angle of that gaze (the replay's 70 degree high view
# is about 100 degrees wide at 16:9); when they do not (the bystander stands between them) or
# the middle is this close to its eyes (it would look at its own feet), it looks at the
# nearest of them instead; and never further down or up than a natural gaze.
ENCOUNTER_CHEST_M = 1.2
BYSTANDER_SPREAD_DEG = 40.0
BYSTANDER_NEAR_M = 1.0
BYSTANDER_MAX_PITCH_DEG = 30.0
ROLES = ("officer", "subject", "bystander")


class ReplayError(ValueError):
    """The viewpoint asked for is not in this run: said in one line."""


@dataclass(frozen=True, slots=True)
class Viewpoint:
    """Whose eyes: "officer", a subject's id, or "bystander" (a drill's bystander, or a
    watcher at the lane's side when the drill has none)."""

    who: str

    @classmethod
    def parse(cls, who: str, drill: Drill) -> Viewpoint:
        """`officer`, `subject` (the first subject that is not a bystander), `bystander` or a
        subject id; ReplayError naming the choices otherwise."""
        ids = [s.id for s in drill.subjects]
        if who == "subject":
            targets = [s.id for s in drill.subjects if s.role == "subject"] or ids
            return cls(targets[0])
        if who in ("officer", "bystander") or who in ids:
            return cls(who)
        # The subjects' own ids beside the three words; an id that is one of them ("subject")
        # is not listed twice ("or one of subject" read oddly).
        extra = [i for i in ids if i not in ("officer", "subject", "bystander")]
        choices = (
            f"officer, subject, bystander, or a subject's id ({', '.join(extra)})"
            if extra
            else "officer, subject or bystander"
        )
        raise ReplayError(f"--as {who}: this run has no such person: choose {choices}")

    def hidden(self, drill: Drill) -> frozenset[str]:
        """The body not drawn: the viewer's own (the camera would sit inside its head)."""
        spec = self._spec(drill)
        return frozenset({spec.id}) if spec is not None else frozenset()

    def _spec(self, drill: Drill) -> Subject | None:
        if self.who == "bystander":
            return next((s for s in drill.subjects if s.role == "bystander"), None)
        return next((s for s in drill.subjects if s.id == self.who), None)

    def eye(self, records: list[LogRecord], drill: Drill, t: float) -> Pose:
        """The viewer's eye at run time `t` in the physics frame (looking along its +X), from a
        saved run's log: where everyone stood (`positions`) and each subject's stance."""
        positions = [r for r in records if r.kind == "positions" and r.t <= t + 1e-9][-1].data
        stance: dict[str, str] = {}
        for r in records:
            if r.t > t + 1e-9:
                break
            if r.kind == "phase_entered":
                stance[r.data["subject"]] = r.data["stance"]
        return self.eye_at(drill, positions["officer"], positions["subjects"], stance)

    def eye_at(
        self,
        drill: Drill,
        officer_xy: Sequence[float],
        subjects_xy: Mapping[str, Sequence[float]],
        stances: Mapping[str, str],
    ) -> Pose:
        """The viewer's eye (physics frame, looking along its +X) with the officer standing at
        `officer_xy`, each subject at `subjects_xy` in its stance (`stances`, by id; standing
        when absent): a replay's from its log (`eye`), a live empathy scene's from the engine
        each frame (range/xr/lane.py). A subject's eye is at its body's eye height in that
        stance (`eye_height_m`), gazing at the officer's face (away from the officer when it
        faces away); a bystander's at the encounter (`bystander_gaze`)."""
        ox, oy = officer_xy
        main = next((s for s in drill.subjects if s.role == "subject"), drill.subjects[0])
        mx, my = subjects_xy[main.id]
        if self.who == "officer":
            return _looking((ox, oy, HEAD_HEIGHT_M), (mx, my, 1.2))
        spec = next((s for s in drill.subjects if s.id == self.who), None)
        if self.who == "bystander":
            spec = next((s for s in drill.subjects if s.role == "bystander"), None)
        people = [(ox, oy)] + [
            (float(subjects_xy[s.id][0]), float(subjects_xy[s.id][1]))
            for s in drill.subjects
            if s.role != "bystander" and s.id in subjects_xy
        ]
        if spec is None:  # a watcher at the side of the lane
            half_width_m = drill.scene.lane_width_ft * FT_M / 2
            side = half_width_m - BYSTANDER_INSET_M
            return bystander_gaze((ox - BYSTANDER_BACK_M, side, BYSTANDER_EYE_M), people)
        x, y = subjects_xy[spec.id]
        body = spec.body(Stance(stances.get(spec.id, "standing")))
        eye_z = eye_height_m(body)
        if spec.role == "bystander":
            return bystander_gaze((x, y, eye_z), people)
        facing_away = spec.facing == "away"
        target = (ox, oy, OFFICER_HEAD_M)
        if facing_away:  # looks where its body faces: away from the officer
            target = (2 * x - ox, 2 * y - oy, eye_z)
        return _looking((x, y, eye_z), target)


def bystander_gaze(eye: tuple[float, float, float], people: Sequence[tuple[float, float]]) -> Pose:
    """A bystander's eye at `eye` watching the encounter: the middle (centroid) of `people`
    (the officer and the subjects, x, y), at chest height, when all of them are within
    BYSTANDER_SPREAD_DEG of that gaze and the middle is at least BYSTANDER_NEAR_M away
    horizontally; otherwise (the bystander stands between them) the nearest of them. The gaze
    is never steeper than BYSTANDER_MAX_PITCH_DEG up or down."""
    ex, ey, ez = eye
    cx = sum(p[0] for p in people) / len(people)
    cy = sum(p[1] for p in people) / len(people)
    seen = [p for p in people if math.hypot(p[0] - ex, p[1] - ey) > 1e-6]
    middle = math.atan2(cy - ey, cx - ex)
    spread = max(
        (abs(math.remainder(math.atan2(p[1] - ey, p[0] - ex) - middle, math.tau)) for p in seen),
        default=0.0,
    )
    if seen and (
        math.hypot(cx - ex, cy - ey) < BYSTANDER_NEAR_M
        or spread > math.radians(BYSTANDER_SPREAD_DEG)
    ):
        cx, cy = min(seen, key=lambda p: math.hypot(p[0] - ex, p[1] - ey))
    dx, dy, dz = cx - ex, cy - ey, ENCOUNTER_CHEST_M - ez
    level = math.hypot(dx, dy)
    if level < 1e-6:  # everyone where the bystander stands: look down the lane, level
        return Pose(eye, look_rotation(np.array([1.0, 0.0, 0.0])))
    limit = level * math.tan(math.radians(BYSTANDER_MAX_PITCH_DEG))
    dz = max(-limit, min(limit, dz))
    return Pose(eye, look_rotation(np.array([dx, dy, dz])))


def eye_height_m(body: SubjectBody) -> float:
    """Eye height above the feet (m): the middle of the head segment as posed in the body's
    stance (a kneeling subject sees from lower down)."""
    skeleton = body.skeleton()
    posed = body.posed()
    head = next(s for s in skeleton.segments if s.name == "head")
    i = head.joint
    middle = (head.start + head.end) / 2
    point = posed.position[i] + posed.rotation[i] @ (middle - skeleton.rest[i])
    return float(point[2])


def _looking(eye: tuple[float, float, float], at: tuple[float, float, float]) -> Pose:
    direction = np.asarray(at, dtype=float) - np.asarray(eye, dtype=float)
    if float(np.linalg.norm(direction)) < 1e-9:
        direction = np.array([1.0, 0.0, 0.0])
    return Pose(eye, look_rotation(direction))


def frame_times(end_s: float, every_s: float) -> list[float]:
    """Run times of the frames: 0, every_s, ... up to and including the run's end."""
    if every_s <= 0:
        raise ReplayError(f"--every {every_s}: the interval must be positive")
    count = math.floor(end_s / every_s + 1e-9) + 1
    times = [round(k * every_s, 9) for k in range(count)]
    if end_s - times[-1] > 1e-9:
        times.append(end_s)
    return times


class Replay:
    """A run replayed from one person's eyes into a renderer: `update(t)` poses the scene at
    run time t and returns the viewer's eye. Scrubbing back (a smaller t) replays the
    animation from the start, as the subjects' animation is stepped forward only."""

    def __init__(
        self, records: list[LogRecord], renderer: Renderer, drill: Drill, who: str
    ) -> None:
        self.records, self.drill, self.renderer = records, drill, renderer
        self.view = Viewpoint.parse(who, drill)
        self.playback = self._playback()
        self.end_s = max(r.t for r in records)
        self._last_t = 0.0

    def _playback(self) -> Playback:
        return Playback(
            self.records,
            self.renderer,
            self.drill,
            officer=self.view.who != "officer",
            hidden=self.view.hidden(self.drill),
        )

    def update(self, t: float) -> Pose:
        if t < self._last_t:
            self.playback = self._playback()
        self._last_t = t
        self.playback.update(t)
        return self.view.eye(self.records, self.drill, t)


FRAME_NAME = re.compile(r"frame_[0-9]{4,}\.png")  # the names write_pngs gives its frames


def frame_files(out_dir: Path) -> list[Path]:
    """The files in `out_dir` named as a replay's frames (frame_0000.png, ...): an earlier
    replay's, which `write_pngs` removes first (nu23 #8)."""
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if FRAME_NAME.fullmatch(p.name) and p.is_file())


def write_pngs(
    run_dir: Path,
    who: str,
    out_dir: Path,
    every_s: float = 0.5,
    size: tuple[int, int] = (960, 540),
    fov_deg: float = 70.0,
) -> list[Path]:
    """Write the run as `who` saw it, a PNG every `every_s` of run time (frame_0000.png at
    t=0, ...), `size` pixels, `fov_deg` high; no display needed. Returns the files. An
    earlier replay's frames in `out_dir` (`frame_files`) are removed first, once the renderer
    is open, so the folder holds this replay's frames alone (a script globbing frame_*.png
    gets one replay); any other file there is left."""
    import matplotlib.image

    from range import outfile
    from range.runs.saved import saved_drill_run

    outfile.check_folder(out_dir)  # never among a run's own files (rc21 #7b)
    records, drill = saved_drill_run(run_dir)
    written = []
    with Renderer(*size) as renderer:  # a size the GL cannot render is refused first
        out_dir.mkdir(parents=True, exist_ok=True)
        for old in frame_files(out_dir):
            old.unlink()
        replay = Replay(records, renderer, drill, who)
        for k, t in enumerate(frame_times(replay.end_s, every_s)):
            image = renderer.render(replay.update(t), fov_deg)
            path = out_dir / f"frame_{k:04d}.png"
            outfile.check(path)  # not a run's own file, not a device (nu23 #1)
            matplotlib.image.imsave(path, image)
            written.append(path)
    return written


def place_in_run(camera: Pose, head_start: Pose, eye: Pose) -> Pose:
    """A headset eye's pose (`camera`, stage frame) carried into the run so that where the
    wearer's head was when the replay started (`head_start`) is the viewer's `eye`, turned to
    the viewer's heading. The wearer's own head movement (and pitch) is kept: a headset never
    forces the wearer's gaze, it starts it facing the way the viewer faced."""
    forward = eye.rotation()[:, 0]
    yaw = math.atan2(float(forward[1]), float(forward[0]))
    start = head_start.rotation()[:, 0]
    turn = quat_to_matrix(yaw_quat(yaw - math.atan2(float(start[1]), float(start[0]))))
    offset = np.asarray(camera.position_m) - np.asarray(head_start.position_m)
    x, y, z = (float(v) for v in np.asarray(eye.position_m) + turn @ offset)
    rotation = turn @ camera.rotation()
    return Pose((x, y, z), matrix_to_quat(rotation), camera.time_s, camera.valid, camera.tracked)


def view_through(
    mvp: NDArray[np.float64], camera: Pose, head_start: Pose, eye: Pose
) -> tuple[Pose, NDArray[np.float64]]:
    """A headset eye's view carried to someone else's `eye` (`place_in_run`): the eye's pose
    in the run and the world-to-clip transform to draw it with, from the runtime's `mvp`
    (its projection @ the stage view from `camera`)."""
    from range.review.render import view_matrix

    placed = place_in_run(camera, head_start, eye)
    projection = mvp @ np.linalg.inv(view_matrix(camera))
    return placed, projection @ view_matrix(placed)


def play_headset(
    run_dir: Path,
    who: str,
    *,
    speed: float = 1.0,
    frames: int | None = None,
    on_view: Callable[[int, Any, NDArray[np.float64], float], None] | None = None,
) -> int:
    """Play the run in the headset as `who` saw it, through the lane's one OpenXR session;
    returns the frames rendered. Run time follows the frames' predicted display times; the
    replay pauses while the session is not focused (the headset taken off).
    `on_view(eye, framebuffer, mvp, t)` is called after each eye is drawn, with the world to
    clip transform it was drawn with and the run time (tests read the image back there)."""
    from range.runs.saved import saved_drill_run
    from range.xr.session import HeadsetSession

    records, drill = saved_drill_run(run_dir)
    shown = 0
    with HeadsetSession() as session:
        renderer = session.renderer
        assert renderer is not None
        replay = Replay(records, renderer, drill, who)
        t, last_s = 0.0, None
        head_start: Pose | None = None
        state: dict[str, Pose] = {}

        def prepare(poses: dict[str, Pose]) -> None:
            state["eye"] = replay.update(min(t, replay.end_s))

        def draw(eye: int, framebuffer: object, mvp: NDArray[np.float64], camera: Pose) -> None:
            assert renderer is not None and head_start is not None
            _, world = view_through(mvp, camera, head_start, state["eye"])
            renderer.draw(framebuffer, world)
            if on_view is not None:
                on_view(eye, framebuffer, world, min(t, replay.end_s))

        while frames is None or shown < frames:
            frame = session.frame(draw, prepare) if head_start is not None else session.frame()
            if frame.state in ("STOPPING", "EXITING", "LOSS_PENDING"):
                break
            if head_start is None and frame.poses.get("head") is not None:
                head_start = frame.poses["head"]
            if frame.rendered:
                shown += 1
            if frame.display_s is not None:
                if last_s is not None and frame.focused:
                    t += (frame.display_s - last_s) * speed
                last_s = frame.display_s
            if frames is None and t >= replay.end_s:
                break
    return shown
