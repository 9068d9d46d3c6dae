"""A drill phase can pick the subject's animation (`animation`, a physics.animation.Clip):
the run plays it instead of the one the state calls for, logs it in `phase_entered`, and the
replay (`Playback`) animates the subject the same from the log; a fall still wins; an unknown
name is refused by line and field."""

from __future__ import annotations

import numpy as np
import pytest

from drills.officer import OfficerScript
from drills.schema import Drill, parse_drill
from physics.animation import Clip, SubjectAnimator, clip_pose
from physics.body import SubjectBody
from physics.datafiles import DataFileError, parse_model
from range.review.mirror import Playback
from range.review.render import Renderer
from range.runs.drill import RunConfig, Session

DRILL = """
id = "phone-reach-v1"
version = 1
title = "t"
rationale = "r"
expected_response = "e"
time_limit_s = 3.0

[[subjects]]
id = "man"
start_distance_ft = 15.0
start_phase = "talks"

[[phases]]
id = "talks"
subject = "man"
behaviour = "compliant"
held_object = "phone"
[[phases.transitions]]
to = "reaches"
after_s = 1.0

[[phases]]
id = "reaches"
subject = "man"
behaviour = "compliant"
ANIMATION
[[phases.transitions]]
to = "done"
after_s = 1.5

[[phases]]
id = "done"
subject = "man"
behaviour = "compliant"
ends_drill = true
"""


WAITS = parse_model(
    'id = "waits-v1"\nversion = 1\ndescription = "d"\n[[steps]]\nat_s = 0.1\ndo = "draw_taser"\n',
    OfficerScript,
    "w.toml",
)


def _drill(animation: str = 'animation = "reach_pocket"') -> Drill:
    return parse_drill(DRILL.replace("ANIMATION", animation), "phone-reach-v1.toml")


def test_the_phase_s_animation_is_played_logged_and_replayed() -> None:
    session = Session(RunConfig(_drill(), WAITS, 0))
    session.run()
    clips = [c for _, c in session.animator._changes["man"]]
    # A compliant man holding a phone idles; the phase picks the reach into the pocket.
    assert clips[0] is Clip.IDLE and Clip.REACH_POCKET in clips
    entered = [r for r in session.engine.log.records if r.kind == "phase_entered"]
    assert [r.data.get("animation") for r in entered] == [None, "reach_pocket", None]
    # Without the field the same phase idles throughout.
    plain = Session(RunConfig(_drill(""), WAITS, 0))
    plain.run()
    assert {c for _, c in plain.animator._changes["man"]} == {Clip.IDLE}
    # The replay animates from the log as the run did.
    records = list(session.engine.log.records)
    with Renderer(64, 48) as renderer:
        play = Playback(records, renderer, _drill())
        for t in [*np.arange(0.0, records[-1].t, 0.1), records[-1].t]:
            play.update(float(t))
    assert [c for _, c in play.animator._changes["man"]] == clips


def test_a_picked_animation_gives_way_to_a_fall() -> None:
    skeleton = SubjectBody().skeleton()
    animator = SubjectAnimator(0)
    for t in (0.0, 0.4, 0.8):
        pose = animator.update(
            "s", t, (3.0, 0.0), 0.0, "compliant", "standing", "none", skeleton, "draw_point"
        )
    seed = animator._timeline("s").seed
    want = clip_pose(skeleton, Clip.DRAW_POINT, 0.8, seed)
    assert pose.joints.keys() == want.joints.keys()
    assert all(np.allclose(pose.joints[k], want.joints[k]) for k in want.joints)
    idle = clip_pose(skeleton, Clip.IDLE, 0.8, seed)  # what a compliant man would do
    assert not all(np.allclose(idle.joints.get(k, np.eye(3)), want.joints[k]) for k in want.joints)
    animator.update(
        "s", 1.0, (3.0, 0.0), 0.0, "incapacitated", "standing", "none", skeleton, "draw_point"
    )
    assert animator._changes["s"][-1][1] is Clip.FALL


def test_an_unknown_animation_is_named_by_line_and_field() -> None:
    with pytest.raises(DataFileError) as err:
        _drill('animation = "moonwalk"')
    message = str(err.value)
    assert "phone-reach-v1.toml:" in message and "animation" in message, message
