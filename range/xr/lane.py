"""A live drill in the headset: the lane's one graphics-bound OpenXR session
(`range.xr.session.HeadsetSession`) draws the run every frame and is the run's pose source.

`LaneHeadset` is what `openrange drill run ID --live` hands the run core: its `frame(run)` is
the run's `on_frame` (called once a frame with the drill `Session`, suspended or not), and it is
the `TrackedPoses` the live officer's hands read (`update()` returns the poses the last frame
located, `pose(device, t)` looks them up on the host clock), so no second, headless session is
opened. `focused()` says whether the last frame found the session FOCUSED: the drill is
suspended with its clock frozen while it does not (`range.runs.drill.LiveDrill.focused`).

Each frame, by transforms only (`Renderer.pose_subject` / `pose_prop`; nothing uploaded again):
the subjects where the engine put them, posed by the animator; the replica in hand at its
tracked pose (its muzzle through the replica's calibration profile); a marker for each probe
or bullet impact and for what a round struck after going through (range/review/effects.py),
uploaded once when physics puts it; and the range timer's cue, a light
panel above the line of sight: amber for STANDBY (before GO, and while the drill is
suspended), green for GO (the first `GO_SHOWN_S` of the run).

A live qualification course uses the same object and renderer (`course_frame`, which
`range.runs.course.LiveRange.draw` calls each frame of the range timer and the strings with a
`CourseView`): the course's scene, its paper target hung at the string's distance (one prop,
moved per string) or the TASER string's subject standing or pacing there, the replica at its
tracked pose, a marker for each hole and probe, a flash per round and a cartridge's wires, and
the cue: amber through STANDBY, green for `GO_SHOWN_S` after the start signal.

An empathy scene (a drill with `[empathy]`) is seen through its perspective subject's eyes, not
the officer's: each frame the eye is that subject's (`range.review.replay.Viewpoint.eye_at`, the
one eye-pose function replays use: eye height in its stance, gaze from where it stands), and the
wearer's head movement since the run's first frame is added on top (`view_through`); the
subject's own body is not drawn, the officer's is. The subjects' lines are placed for that head
(`DrillEngine.listener_yaw_rad`), so the run is heard from where it is seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from drills.course import FIREARMS
from drills.engine import RunState
from physics.body import SubjectBody
from physics.pose import Pose
from physics.targets import TARGETS
from range.review.effects import (
    ARC_AHEAD_M,
    ARC_HALF_M,
    ARC_RGB,
    FLASH_S,
    BodyMarkers,
    EffectLog,
    EffectProps,
    Impact,
    Wire,
    draw_impact,
)
from range.review.mirror import OFFICER
from range.review.render import COLOURS, LIGHTING, OFFICER_LIGHT, ConeLight, Scene
from range.review.replay import Viewpoint, place_in_run, view_through
from range.runs.core import LiveHands
from range.runs.drill import head_yaw_rad
from range.runs.lane import Attached, Weapon
from range.xr.runtime import XRUnavailableError
from range.xr.session import HeadsetFrame, HeadsetSession

if TYPE_CHECKING:
    from range.runs.course import CourseView
    from range.runs.drill import Session

# The range timer's cue panel: amber STANDBY, green GO (unlit, so it reads in any lighting).
STANDBY_RGB = (1.0, 0.62, 0.0)
GO_RGB = (0.1, 0.9, 0.2)
GO_SHOWN_S = 1.5  # how long GO stays up after the drill's clock starts
# Where the cue hangs in the head's frame: 1.2 m ahead, 0.35 m above the line of sight (in the
# upper field of view, clear of the subjects), 16 x 6 cm.
CUE_AHEAD_M = 1.2
CUE_ABOVE_M = 0.35
CUE_HALF_M = (0.002, 0.08, 0.03)
IMPACT_MARKER_M = 0.025
HIDDEN = Pose((0.0, 0.0, -10.0))  # a prop or subject out of sight, under the floor
COURSE_SUBJECT = "course-subject"  # a TASER string's subject, as the renderer knows it
# A course's paper target hangs with its centre at muzzle height (range/runs/course.py).
TARGET_CENTRE_M = 1.4

# tap(headset, eye, framebuffer, mvp): called after each eye is drawn (a test reads the
# swapchain image back; the instructor's tools could too).
Tap = Callable[["LaneHeadset", int, Any, NDArray[np.float64]], None]


def cue_panel(rgb: tuple[float, float, float]) -> Scene:
    """The cue panel in its own frame (+X ahead), unlit."""
    scene = Scene()
    scene.box((0.0, 0.0, 0.0), CUE_HALF_M, rgb, emissive=True)
    return scene


def cue_pose(head: Pose) -> Pose:
    """Where the cue panel hangs for a head pose: ahead of the eyes and above the line of
    sight, facing them."""
    rot = head.rotation()
    at = np.asarray(head.position_m) + rot[:, 0] * CUE_AHEAD_M + rot[:, 2] * CUE_ABOVE_M
    return Pose((float(at[0]), float(at[1]), float(at[2])), head.orientation, head.time_s)


class LaneHeadset:
    """The drill drawn into the headset, and the headset's poses for the run (see the module's
    docstring). `session` is an open `HeadsetSession`; `tap` is called after each eye is drawn.
    The replica is drawn with its muzzle where the live hands' calibration profile for its
    serial puts it (without one, at the tracker's pose as it is). `mirror` (a
    `range.review.mirror.LiveMirror`) also shows each frame from the officer's eyes in the
    instructor's window."""

    def __init__(
        self,
        session: HeadsetSession,
        tap: Tap | None = None,
        mirror: Any = None,
    ) -> None:
        self.session = session
        self.tap = tap
        self.mirror = mirror
        self.run: Session | None = None
        self.last: HeadsetFrame | None = None
        self.cue = "STANDBY"
        self.started = False
        self._held: dict[str, tuple[str, int]] = {}  # subject -> (held object, body id)
        self._replica: str | None = None  # the replica prop's kind
        self._markers = 0  # impacts (`effects.impacts`) given a marker
        # Those on a drawn subject's segment: kept on the posed body each frame.
        self._body_markers: BodyMarkers | None = None
        self._on_body: set[int] = set()
        self.effects = EffectLog()  # TASER wires and muzzle flashes (range/review/effects.py)
        self._effect_props: EffectProps | None = None
        self._cartridges: dict[str | None, tuple[float, float, float]] = {}
        # An empathy scene: whose eyes (None: the officer's own), that subject's eye this frame,
        # the wearer's head when the run's first frame was drawn, and the head as placed in
        # the run (what this frame is seen from).
        self.view: Viewpoint | None = None
        self.eye: Pose | None = None
        self.head_start: Pose | None = None
        self.placed_head: Pose | None = None
        # The runtime's world-to-clip transform for the eye last drawn: the wearer's own view
        # from the stage (in an empathy scene `tap` gets the one drawn, from the subject's eyes).
        self.stage_mvp: NDArray[np.float64] = np.eye(4)
        # Where the TASER's arc is drawn this frame (at its front while it arcs), or None.
        self.arc_at: tuple[float, float, float] | None = None
        # A live course (`course_frame`): what is drawn now, which string's range is set up,
        # the log records read, the muzzle flashes and wires of its shots and deployments.
        self.course: CourseView | None = None
        self._course_id: int | None = None
        self._course_string: tuple[int, int] | None = None
        self._course_seen = 0
        self._course_flashes: list[tuple[float, Pose]] = []
        self._course_wires: list[Wire] = []
        self.muzzle: Pose | None = None  # the replica's muzzle as drawn this frame
        self.cue_at: Pose | None = None  # where the cue shown this frame hangs (None: none)

    @property
    def renderer(self) -> Any:
        assert self.session.renderer is not None
        return self.session.renderer

    # -- before the run -----------------------------------------------------------------------

    def wait_focused(self, timeout_s: float = 10.0) -> LaneHeadset:
        """Render frames (the empty range) until the session is FOCUSED, or say why not
        (XRUnavailableError, one line) after `timeout_s` of real time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            frame = self.pump()
            if frame.focused:
                return self
            if not frame.rendered:
                time.sleep(0.01)  # not running yet: nothing paces the loop
        raise XRUnavailableError(
            f"the headset session did not get focus (states: {', '.join(self.session.states)}):"
            " is the headset on, or another application holding the runtime?"
        )

    def start(self) -> None:
        """The drill's clock starts: the cue turns to GO."""
        self.started = True

    # -- TrackedPoses ---------------------------------------------------------------------------

    def update(self) -> dict[str, Pose]:
        """The poses the last frame located (the frame is rendered by `frame`, not here)."""
        return dict(self.last.poses) if self.last is not None else {}

    def pose(self, device: str, t: float) -> Pose:
        return self.session.pose(device, t)

    def focused(self) -> bool:
        """The last frame found the session FOCUSED (the officer has the headset on)."""
        return self.last is None or self.last.focused

    # -- a frame ------------------------------------------------------------------------------

    def frame(self, run: Session) -> None:
        """The run's `on_frame`: draw the run as it is now into the headset."""
        if self.run is not run:
            self._attach(run)
        self.pump()

    def course_frame(self, view: CourseView) -> None:
        """A live course's frame (`range.runs.course.LiveRange.draw`): draw the course's range,
        the string's target or subject, the replica, what was fired and the timer's cue."""
        if self._course_id != id(view.course):
            self._attach_course(view)
        if self._course_string != (view.stage, view.string):
            self._set_up_string(view)
        self.course = view
        self.started = view.phase == "go"
        self.pump()

    def pump(self) -> HeadsetFrame:
        """One headset frame (the runtime's events, and a rendered frame in a running state)."""
        self.last = frame = self.session.frame(self._draw, self._prepare)
        head = frame.poses.get("head")
        mirror = self.mirror
        # After the frame is submitted: the window's context is made current only between
        # headset frames, never while a swapchain image is acquired.
        if self.placed_head is not None and head is not None:
            head = self.placed_head  # an empathy scene: the window shows the subject's eyes too
        if frame.rendered and head is not None and mirror is not None and not mirror.closed:
            mirror.show(self.renderer, head, activate=self.session.make_current)
            # The headset's context current again: whatever the run uploads between frames
            # (a new subject, an impact's marker) must land in it, not in the window's.
            self.session.make_current()
        return frame

    def _attach(self, run: Session) -> None:
        """Upload the drill's range once: the lane and its cover, the subjects, the cue."""
        self.run = run
        self.session.make_current()
        drill = run.config.drill
        scene = Scene()
        scene.setting(drill.scene)  # the lane, its cover and its props (a car, a room...)
        renderer = self.renderer
        renderer.load(scene)
        renderer.lighting = LIGHTING[drill.scene.lighting]
        renderer.cone = None
        renderer.add_prop("cue:STANDBY", cue_panel(STANDBY_RGB))
        renderer.add_prop("cue:GO", cue_panel(GO_RGB))
        spark = Scene()
        spark.box((0.0, 0.0, 0.0), ARC_HALF_M, ARC_RGB, emissive=True)
        renderer.add_prop("arc", spark)
        if drill.empathy is not None:
            self.view = Viewpoint.parse(drill.empathy.perspective, drill)
            renderer.add_subject(OFFICER, SubjectBody(), COLOURS["officer"], "none")

    def _attach_course(self, view: CourseView) -> None:
        """Upload a course's range once: the lane, its cover and props, the paper target (posed
        at each string's distance), the cue."""
        self._course_id = id(view.course)
        self._course_string = None
        self.session.make_current()
        course = view.course
        scene = Scene()
        scene.setting(course.scene)
        renderer = self.renderer
        renderer.load(scene)
        renderer.lighting = LIGHTING[course.scene.lighting]
        renderer.cone = None
        renderer.add_prop("cue:STANDBY", cue_panel(STANDBY_RGB))
        renderer.add_prop("cue:GO", cue_panel(GO_RGB))
        paper = Scene()
        paper.paper_target(TARGETS[course.target], (0.0, 0.0, TARGET_CENTRE_M))
        renderer.add_prop("target", paper)
        renderer.pose_prop("target", HIDDEN)
        self._replica = None
        self._effect_props = None

    def _set_up_string(self, view: CourseView) -> None:
        """A new string: the paper target at its distance, or its TASER subject (uploaded once
        a string); the last string's wires taken down."""
        self._course_string = (view.stage, view.string)
        renderer = self.renderer
        self._course_wires = []
        if view.subject is None:
            renderer.pose_prop("target", Pose((view.distance_m, 0.0, 0.0)))
            renderer.remove_subject(COURSE_SUBJECT)
        else:
            renderer.pose_prop("target", HIDDEN)
            body = view.spec.subject.body()
            renderer.add_subject(COURSE_SUBJECT, body, COLOURS["subject"], "none")

    def _prepare(self, poses: dict[str, Pose]) -> None:
        """Move everything to where the run has it (transforms only)."""
        run, renderer = self.run, self.renderer
        if run is None:
            if self.course is not None:
                self._prepare_course(self.course, poses)
            return
        drill = run.config.drill
        roles = {s.id: s.role for s in drill.subjects}
        hidden = self.view.hidden(drill) if self.view is not None else frozenset()
        for subject in run.engine.subjects.values():
            if subject.id in hidden:
                continue  # the body whose eyes the headset looks through
            body = run.bodies[subject.id]
            held = (subject.held_object.value, id(body))
            if self._held.get(subject.id) != held:
                colour = COLOURS["bystander" if roles.get(subject.id) == "bystander" else "subject"]
                renderer.add_subject(subject.id, body, colour, subject.held_object.value)
                self._held[subject.id] = held
            x, y = subject.position_m
            renderer.pose_subject(
                subject.id, (x, y, 0.0), subject.yaw_rad, run.human_poses.get(subject.id)
            )
        head = poses.get("head")
        if self.view is not None:
            head = self._perspective(run, head)
        self._pose_replica(run, poses.get("aim"))
        self._add_impacts(run)
        self._pose_effects(run)
        self._pose_cue(run, head)

    def _prepare_course(self, view: CourseView, poses: dict[str, Pose]) -> None:
        """A live course's frame, by transforms: the TASER subject where it paces, the replica
        at its tracked pose (through its calibration profile), a marker for each shot's hole
        or probe, each round's flash and each cartridge's wires, and the timer's cue."""
        renderer = self.renderer
        if view.subject is not None:
            x, y, yaw, pose = view.subject
            renderer.pose_subject(COURSE_SUBJECT, (x, y, 0.0), yaw, pose)
        # A rifle string's replica is drawn with the pistol's shape (no long-gun shape yet).
        kind = "pistol" if view.spec.weapon in FIREARMS else "taser"
        if self._replica != kind:
            scene = Scene()
            scene.weapon(Pose((0.0, 0.0, 0.0)), kind)
            renderer.add_prop("replica", scene)
            self._replica = kind
        tracker = poses.get("aim")
        self.muzzle = None
        if tracker is None or not tracker.valid:
            renderer.pose_prop("replica", HIDDEN)
        else:
            profile = view.profiles.get(view.serial) if view.serial is not None else None
            self.muzzle = profile.boresight.muzzle(tracker) if profile is not None else tracker
            renderer.pose_prop("replica", self.muzzle)
        self._course_fired(view)
        if self._effect_props is None:
            self._effect_props = EffectProps(renderer)
        now = view.now_s
        self._course_flashes = [(at, p) for at, p in self._course_flashes if now - at < FLASH_S]
        wires = self._course_wires
        if self.muzzle is not None:  # the wires hang from the cartridge: the replica now
            start = self.muzzle.position_m
            wires = [Wire(w.serial, w.probe, start, w.probe_m) for w in wires]
        self._effect_props.update(wires, [p for _, p in self._course_flashes])
        self.cue = (
            "STANDBY" if view.phase == "standby" else ("GO" if view.t_rel < GO_SHOWN_S else "")
        )
        self._show_cue(poses.get("head"))

    def _course_fired(self, view: CourseView) -> None:
        """What the attempt's log says was fired since the last frame: a marker where each
        round struck or each probe landed (uploaded once), a flash at the muzzle that fired it,
        and a cartridge's wires."""
        records = view.records
        while self._course_seen < len(records):
            r = records[self._course_seen]
            self._course_seen += 1
            impacts: list[Impact] = []
            if r.kind == "shot":
                p = r.data["point"]
                point = (float(p[0]), float(p[1]), float(p[2]))
                impacts.append(Impact(r.t, "bullet", point, r.data.get("stopped_by")))
                if self.muzzle is not None:
                    self._course_flashes.append((r.t, self.muzzle))
            elif r.kind == "deployment":
                start = self.muzzle.position_m if self.muzzle is not None else (0.0, 0.0, 1.4)
                for probe in r.data["impacts"]:
                    p = probe["point"]
                    where = (float(p[0]), float(p[1]), float(p[2]))
                    impacts.append(Impact(r.t, "probe", where, probe.get("target")))
                    self._course_wires.append(Wire(view.serial, int(probe["probe"]), start, where))
            for impact in impacts:
                scene = Scene()
                draw_impact(scene, impact, IMPACT_MARKER_M)
                self.renderer.add_prop(f"impact:{self._markers}", scene)
                self._markers += 1

    def _perspective(self, run: Session, head: Pose | None) -> Pose | None:
        """An empathy scene's frame: the officer's body posed where the engine has the officer,
        the perspective subject's eye now, and the wearer's head carried to it (the head the
        frame is seen from, returned); the subjects' lines are placed for that head."""
        assert self.view is not None
        engine = run.engine
        ox, oy = engine.officer_position_m
        main = next((s for s in engine.subjects.values() if s.role == "subject"), None)
        toward = main.position_m if main is not None else (ox + 1.0, oy)
        self.renderer.pose_subject(
            OFFICER, (ox, oy, 0.0), math.atan2(toward[1] - oy, toward[0] - ox)
        )
        self.eye = self.view.eye_at(
            run.config.drill,
            engine.officer_position_m,
            {s.id: s.position_m for s in engine.subjects.values()},
            {s.id: s.stance.value for s in engine.subjects.values()},
        )
        if head is None or not head.valid:
            self.placed_head = None
            return None
        if self.head_start is None:
            self.head_start = head
        self.placed_head = placed_head = place_in_run(head, self.head_start, self.eye)
        engine.listener_yaw_rad = head_yaw_rad(placed_head)
        return placed_head

    def _pose_replica(self, run: Session, tracker: Pose | None) -> None:
        replicas: list[Attached] = list(run.lane.replicas)
        self.arc_at = None
        self.renderer.pose_prop("arc", Pose((0.0, 0.0, -10.0)))  # out of sight unless arcing
        if not replicas:
            return
        out = run.weapon_out
        replica = next((r for r in replicas if r.weapon is out), replicas[0])
        kind = "taser" if replica.weapon is Weapon.TASER else "pistol"
        if self._replica != kind:
            scene = Scene()
            scene.weapon(Pose((0.0, 0.0, 0.0)), kind)
            self.renderer.add_prop("replica", scene)
            self._replica = kind
        self.renderer.cone = None
        if tracker is None or not tracker.valid:
            self.renderer.pose_prop("replica", Pose((0.0, 0.0, -10.0)))  # out of sight
            return
        hands = run.hands
        profile = hands.profiles.get(replica.serial) if isinstance(hands, LiveHands) else None
        muzzle = profile.boresight.muzzle(tracker) if profile is not None else tracker
        self.renderer.pose_prop("replica", muzzle)
        if run.config.drill.scene.lighting in OFFICER_LIGHT:
            # At dusk and night the weapon light shines along the replica's bore.
            self.renderer.cone = ConeLight.on_weapon(muzzle)
        # The TASER's wires hang from its cartridges: where the replica is now.
        self._cartridges = {}
        if replica.weapon is Weapon.TASER:
            self._cartridges[replica.serial] = muzzle.position_m
            self.effects.feed(run.engine.log.records, run.engine.t)
            if self.effects.arcing(replica.serial):  # the arc at its front (an ARC press)
                ahead = np.asarray(muzzle.position_m) + muzzle.forward() * ARC_AHEAD_M
                self.arc_at = (float(ahead[0]), float(ahead[1]), float(ahead[2]))
                self.renderer.pose_prop("arc", Pose(self.arc_at, muzzle.orientation))

    def _pose_effects(self, run: Session) -> None:
        """TASER wires and muzzle flashes where the log puts them: transforms only."""
        if self._effect_props is None:
            self._effect_props = EffectProps(self.renderer)
        t = run.engine.t
        self.effects.feed(run.engine.log.records, t)
        now = {s.id: s.position_m for s in run.engine.subjects.values()}
        on_body = None if self._body_markers is None else self._body_markers.point
        wires = self.effects.wires(t, now, self._cartridges, on_body)
        self._effect_props.update(wires, self.effects.flashes(t))

    def _add_impacts(self, run: Session) -> None:
        """A marker for each impact since the last frame (a probe, a round's first strike, what
        it struck after going through, with its onward path), uploaded once; one logged on a
        drawn subject's segment rides on that segment as posed this frame (`BodyMarkers`;
        call after posing the subjects)."""
        self.effects.feed(run.engine.log.records, run.engine.t)
        if self._body_markers is None:
            self._body_markers = BodyMarkers(self.renderer)
        impacts = self.effects.impacts
        anchored = self._body_markers.anchored(impacts)
        for impact in impacts[self._markers :]:
            scene = Scene()
            on_body = self._markers in anchored
            draw_impact(scene, impact, IMPACT_MARKER_M, marker=not on_body)
            if on_body:
                self._on_body.add(self._markers)
            self.renderer.add_prop(f"impact:{self._markers}", scene)
            self._markers += 1
        self._body_markers.update(impacts, IMPACT_MARKER_M, self._on_body)

    def _pose_cue(self, run: Session, head: Pose | None) -> None:
        suspended = run.engine.state is RunState.SUSPENDED
        go = self.started and not suspended and run.engine.t < GO_SHOWN_S
        self.cue = "GO" if go else ("STANDBY" if suspended or not self.started else "")
        self._show_cue(head)

    def _show_cue(self, head: Pose | None) -> None:
        """The cue panel `self.cue` names, where `head` sees it; the other one out of sight."""
        hidden = HIDDEN
        where = cue_pose(head) if head is not None and head.valid else hidden
        self.cue_at = where if self.cue else None
        for name in ("STANDBY", "GO"):
            self.renderer.pose_prop(f"cue:{name}", where if self.cue == name else hidden)

    def _draw(self, eye: int, framebuffer: Any, mvp: NDArray[np.float64], camera: Pose) -> None:
        self.stage_mvp = mvp
        if self.eye is not None and self.head_start is not None:
            _, mvp = view_through(mvp, camera, self.head_start, self.eye)
        self.renderer.draw(framebuffer, mvp)
        if self.tap is not None:
            self.tap(self, eye, framebuffer, mvp)
