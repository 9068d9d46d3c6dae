"""Subjects posed by transforms: the rig draws what the rebuilt scene draws, and a new pose
touches no buffer."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from physics.animation import Clip, clip_pose
from physics.body import BODY_SIZES, SubjectBody
from physics.pose import Pose, look_rotation
from range.review.render import COLOURS, Renderer, Scene

EYE = (0.0, 0.0, 1.5)
CAMERA = Pose(EYE, look_rotation(np.array([5.0, 0.0, 1.0]) - np.asarray(EYE)))
SUBJECTS = [
    ("a", SubjectBody(), (5.0, 0.0, 0.0), math.pi, Clip.WALK, 0.3, "phone"),
    ("b", SubjectBody(BODY_SIZES["large"]), (6.0, 1.2, 0.0), 2.5, Clip.DRAW_POINT, 0.7, "handgun"),
    ("c", SubjectBody(child=True), (4.0, -1.0, 0.0), 0.5, Clip.ARMS_RAISED, 0.0, "none"),
]


def test_the_rig_draws_what_the_rebuilt_scene_draws() -> None:
    """Three subjects (sizes, clips, a phone, a pistol) drawn by bone transforms and by the
    rebuilt triangle scene: the same picture."""
    rebuilt = Scene()
    rebuilt.lane(20.0, 8.0)
    static = Scene()
    static.lane(20.0, 8.0)
    with Renderer(160, 120) as renderer:
        for key, body, feet, yaw, clip, t, held in SUBJECTS:
            pose = clip_pose(body.skeleton(), clip, t, 1)
            rebuilt.subject(body, feet, yaw, COLOURS["subject"], pose)
            rebuilt.held(body, feet, yaw, held, pose)
            renderer.add_subject(key, body, held_object=held)
            renderer.pose_subject(key, feet, yaw, pose)
        renderer.load(static)
        rigged = renderer.render(CAMERA, 50.0)
        for key, *_ in SUBJECTS:
            renderer.remove_subject(key)
        renderer.load(rebuilt)
        reference = renderer.render(CAMERA, 50.0)
    differ = np.abs(rigged.astype(int) - reference.astype(int)).max(axis=2) > 3
    assert differ.mean() < 0.002  # float rounding on a few edge pixels at most


def test_a_new_pose_moves_the_subject_without_touching_a_buffer() -> None:
    body = SubjectBody()
    with Renderer(160, 120) as renderer:
        renderer.add_subject("a", body)
        buffers = [id(v) for v in renderer._meshes.values()]
        frames = []
        for t in (0.0, 0.25, 0.5):
            renderer.pose_subject(
                "a", (5.0, 0.5 * t, 0.0), math.pi, clip_pose(body.skeleton(), Clip.RUN, t, 2)
            )
            frames.append(renderer.render(CAMERA, 50.0))
        renderer.add_subject("b", SubjectBody())  # the same build shares the mesh
        assert [id(v) for v in renderer._meshes.values()] == buffers
    assert len(renderer._meshes) == 1
    assert (frames[0] != frames[1]).any() and (frames[1] != frames[2]).any()


def test_the_mirror_playback_poses_by_transforms_and_uploads_only_on_change(
    tmp_path: Path,
) -> None:
    """A knife approach replayed frame by frame: the lane and markers are uploaded once and
    again only when an impact appears; the subject moves (its pixels change) between frames."""
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.review.mirror import Playback
    from range.runs.drill import RunConfig, run_drill
    from range.runs.runlog import read_events

    result = run_drill(
        RunConfig(
            find_drill("knife-approach-v1"), find_officer("taser-first-v1"), 3, runs_dir=tmp_path
        )
    )
    assert result.run_dir is not None
    records = read_events(result.run_dir)
    end = max(r.t for r in records)
    impacts = sum(1 for r in records if r.kind in ("probe_impacts", "bullet_impact"))
    with Renderer(120, 90) as renderer:
        loads = []
        original = renderer.load

        def counted(scene: Scene) -> None:
            loads.append(1)
            original(scene)

        renderer.load = counted  # type: ignore[method-assign]
        playback = Playback(records, renderer, find_drill("knife-approach-v1"))
        frames = []
        for k in range(40):
            eyes = playback.update(end * k / 39)
            frames.append(renderer.render(eyes, 70.0))
    assert 1 <= len(loads) <= 1 + impacts
    changed = sum((a != b).any() for a, b in itertools.pairwise(frames))
    assert changed > 20


class _CountingVao:
    """A vertex array that counts its draw calls (the real one draws)."""

    def __init__(self, vao: object, calls: list[int]) -> None:
        self._vao, self._calls = vao, calls

    def render(self, **kwargs: int) -> None:
        self._calls.append(kwargs.get("instances", 1))
        self._vao.render(**kwargs)  # type: ignore[attr-defined]

    def release(self) -> None:
        self._vao.release()  # type: ignore[attr-defined]


def _crowd(count: int) -> list[tuple[str, SubjectBody, tuple[float, float, float], float]]:
    bodies = [SubjectBody(), SubjectBody(BODY_SIZES["large"]), SubjectBody(child=True)]
    return [
        (f"s{k}", bodies[k % 3], (3.5 + 0.55 * (k % 10), -2.4 + 0.55 * k / 3, 0.0), 0.4 * k)
        for k in range(count)
    ]


def test_instanced_subjects_draw_the_per_subject_picture_one_call_per_mesh() -> None:
    """3 and 30 subjects (three builds, three held objects, two tints, different clips) drawn
    instanced and by the per-subject path (the code before, same context, same run): the same
    picture to within 2 grey levels, and the instanced path issues one draw per distinct mesh."""
    held = ["phone", "handgun", "none"]
    clips = [Clip.WALK, Clip.DRAW_POINT, Clip.RUN, Clip.ARMS_RAISED]
    static = Scene()
    static.lane(20.0, 8.0)
    with Renderer(240, 180) as renderer:
        renderer.load(static)
        sky = renderer.render(CAMERA, 60.0)
        for count in (3, 30):
            for key in renderer.subjects:
                renderer.remove_subject(key)
            for k, (key, body, feet, yaw) in enumerate(_crowd(count)):
                colour = COLOURS["bystander" if k % 4 == 3 else "subject"]
                renderer.add_subject(key, body, colour, held_object=held[k % 2 + (k % 5 == 4)])
                pose = clip_pose(body.skeleton(), clips[k % 4], 0.13 * k, k)
                renderer.pose_subject(key, feet, yaw, pose)
            meshes = {rig.mesh for rig in renderer._rigs.values()}
            calls: list[int] = []
            renderer._instanced_vaos = {
                m: _CountingVao(v, calls) for m, v in renderer._instanced_vaos.items()
            }
            renderer.instanced = True
            instanced = renderer.render(CAMERA, 60.0)
            assert len(calls) == len(meshes) and sum(calls) == count
            renderer.instanced = False
            per_subject = renderer.render(CAMERA, 60.0)
            renderer.instanced = True
            assert np.abs(instanced.astype(int) - per_subject.astype(int)).max() <= 2
            drawn = (np.abs(per_subject.astype(int) - sky.astype(int)).max(axis=2) > 8).mean()
            assert drawn > (0.02 if count == 3 else 0.1), drawn
