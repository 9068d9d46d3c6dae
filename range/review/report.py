"""`openrange report RUN_DIR`: a self-contained HTML after-action review of one run.

Everything comes from the run's event log (and the drill it names): the timeline of phases and
officer actions, a chart of the threat over time, a top-down map of where everyone was, and for
each shot two rendered images, from the officer's viewpoint and from the subject's, with the
impacts marked; then the score with every finding.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from drills.events import EventLogError
from drills.log import LogRecord, run_started
from drills.schema import Drill
from drills.speech import span_text
from physics.pose import Pose, look_rotation
from range import outfile
from range.calibration.used import uncalibrated
from range.cli.corrections import (
    VoiceProblem,
    checked_notes,
    corrected_score,
    correction_notes,
    voice_problem,
)
from range.cli.summary import (
    correction_change,
    earlier_corrections,
    finding_kind,
    finding_mark,
    left_out,
    run_who,
    verdict_line,
)
from range.records.store import content_label
from range.review.render import COLOURS, LIGHTING, OFFICER_LIGHT, ConeLight, Renderer, Scene
from range.runs.runlog import EVENTS, read_events
from range.runs.saved import kept_script_problems, saved_drill
from scoring.corrections import Correction, added_in_force, apply_corrections, correction_of
from scoring.score import Outcome

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from physics.props import PropPart
    from physics.targets import PaperTarget
    from range.cli.corrections import RecordedCorrections
    from scoring.course import Counted

THREAT_LEVEL = {"none": 0, "passive": 1, "active": 2, "assaultive": 3, "deadly": 4}
IMAGE_W, IMAGE_H, FOV = 480, 320, 60.0


def _png(figure_or_image: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    if isinstance(figure_or_image, np.ndarray):
        plt.imsave(buffer, figure_or_image, format="png")
    else:
        figure_or_image.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(figure_or_image)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# How the chart names a subject's drop to no threat, by the behaviour that ended it.
_GAVE_UP_WORDS = {
    "incapacitated": "incapacitated",
    "surrendered": "surrendered",
    "compliant": "complied",
}


def threat_steps(records: list[LogRecord]) -> dict[str, list[tuple[float, int, str]]]:
    """Per subject, `(t, threat level, behaviour)` at each record that may change its threat,
    read as scoring reads it (scoring/score.py `threat_moment`): an incapacitation drops it to
    none; a phase or a recovery sets it from the behaviour and the subject's danger to others
    under today's rules, so the chart draws the threat the score judged."""
    from drills.threat import Behaviour, threat_of

    steps: dict[str, list[tuple[float, int, str]]] = {}
    danger: dict[str, bool] = {}
    for r in records:
        if r.kind not in ("phase_entered", "incapacitation_started", "incapacitation_ended"):
            continue
        name = r.data["subject"]
        if r.kind == "incapacitation_started":
            behaviour, level = Behaviour.INCAPACITATED, 0
        else:
            if r.data.get("attributes") is not None:  # absent: the earlier phase's still hold
                danger[name] = bool(r.data["attributes"].get("danger_to_others"))
            behaviour = Behaviour(r.data["behaviour"])
            level = int(threat_of(behaviour, danger.get(name, False)))
        steps.setdefault(name, []).append((r.t, level, behaviour.value))
    return steps


def _threat_figure(records: list[LogRecord]) -> Figure:
    """Each subject's threat level over the run as a step line, over the officer's actions
    (vertical lines); every drop to none is marked with a dot and what ended it ("incapacitated
    6.74 s"): a subject shot down ends the run within a frame, so the drop is the chart's
    last instant and the firearm's red line fell on it (nu23 #9)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.6))
    end = max(r.t for r in records)
    for r in records:
        if r.kind == "officer_action":
            colour = {"taser_fired": "orange", "firearm_fired": "red"}.get(r.data["action"], "grey")
            ax.axvline(r.t, color=colour, lw=1, alpha=0.7, zorder=1)  # under the threat lines
    by_subject = threat_steps(records)
    for name, steps in by_subject.items():
        times = [t for t, _, _ in steps] + [end]
        levels = [level for _, level, _ in steps] + [steps[-1][1]]
        (line,) = ax.step(times, levels, where="post", label=name, lw=1.8, zorder=3)
        for (_, before, _), (t, level, behaviour) in itertools.pairwise(steps):
            if level == 0 and before > 0:
                ax.plot([t], [0], "o", color=line.get_color(), markersize=6, zorder=4)
                late = t > end / 2  # the words on the side of the dot with room for them
                ax.annotate(
                    f"{_GAVE_UP_WORDS.get(behaviour, 'no threat')} {t:.2f} s",
                    (t, 0),
                    xytext=(-5 if late else 5, 7),
                    textcoords="offset points",
                    ha="right" if late else "left",
                    fontsize=8,
                    color=line.get_color(),
                    zorder=5,
                )
    ax.set_yticks(range(5), list(THREAT_LEVEL))
    ax.set_xlabel("drill time (s); grey: commands and draws, orange: TASER, red: firearm")
    if by_subject:
        ax.legend(loc="upper left", fontsize=8)
    return fig


def _threat_chart(records: list[LogRecord]) -> str:
    return _png(_threat_figure(records))


# Each person's colour on the map: the officer black, the subjects in turn from these, none of
# them the impacts' red and orange, the cover's grey or the props' tan (nu19 #7).
OFFICER_COLOUR = "black"
PERSON_COLOURS = ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:cyan")
PROP_COLOUR = "tan"
COVER_COLOUR = "grey"
STILL_M = 0.01  # a person whose track spans less than this never moved: drawn as a dot


def _map_figure(
    records: list[LogRecord],
    cover: Sequence[dict[str, Any]] = (),
    props: Sequence[PropPart] = (),
    crowds: Sequence[dict[str, Any]] = (),
) -> Figure:
    """The top-down map: every person's track in its own colour, with a dot where it ended (a
    person who never moved is that dot alone), every prop's boxes (the traffic stop's car),
    cover and crowds, and every impact; the legend names each colour and marker drawn."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon, Rectangle

    fig, ax = plt.subplots(figsize=(9, 3.6))
    positions = [r for r in records if r.kind == "positions"]
    if not positions:  # a log cut before its first frame: nobody's position was recorded
        ax.text(
            0.5,
            0.5,
            "no positions recorded: the log stops before the first frame",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return fig
    named: set[str] = set()
    for part in props:  # each prop once in the legend, drawn under everything else
        (cx, cy, _), (hx, hy, _) = part.centre, part.half
        yaw = part.rotation()[:2, :2]
        corners = [
            tuple(yaw @ (x, y) + (cx, cy)) for x, y in ((-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy))
        ]
        ax.add_patch(
            Polygon(
                corners,
                closed=True,
                color=PROP_COLOUR,
                zorder=1,
                label=None if part.prop in named else part.prop,
            )
        )
        named.add(part.prop)
    for box in cover:
        role = str(box.get("role") or "cover")
        ax.add_patch(
            Rectangle(
                (box["x_m"] - box["depth_m"] / 2, box["y_m"] - box["width_m"] / 2),
                box["depth_m"],
                box["width_m"],
                color=COVER_COLOUR,
                alpha=0.6,
                zorder=2,
                label=f"{role}: {box['name']}",
            )
        )
    for crowd in crowds:
        ax.add_patch(
            Rectangle(
                (crowd["x_m"] - crowd["depth_m"] / 2, crowd["y_m"] - crowd["width_m"] / 2),
                crowd["depth_m"],
                crowd["width_m"],
                fill=False,
                hatch="///",
                color=COVER_COLOUR,
                zorder=2,
                label=f"crowd: {crowd['name']} (a scoring zone, no bodies)",
            )
        )
    people = [("officer", OFFICER_COLOUR, np.array([r.data["officer"] for r in positions]))]
    for n, name in enumerate(positions[0].data["subjects"]):
        track = np.array([r.data["subjects"][name] for r in positions])
        people.append((name, PERSON_COLOURS[n % len(PERSON_COLOURS)], track))
    for name, colour, track in people:
        still = float(np.ptp(track, axis=0).max()) < STILL_M
        # The line where the person went, the dot where the person ended: one legend entry.
        ax.plot(
            track[:, 0],
            track[:, 1],
            "-",
            color=colour,
            lw=2,
            marker="o",
            markersize=7,
            markevery=[len(track) - 1],
            zorder=4,
            label=f"{name} (did not move)" if still else f"{name} (dot: at the end)",
        )
    marks = {
        "probe": ("x", "orange", "TASER probe"),
        "bullet": ("x", "red", "round's first strike"),
        "strike": ("+", "red", "round's strike after going through"),
    }
    shown: set[str] = set()  # the kinds of mark in the legend so far
    far: list[float] = []  # each impact's distance from the lane's middle (m)
    for r in records:
        points: list[Sequence[float]] = []
        if r.kind == "probe_impacts":
            points, mark = [i["point"] for i in r.data["impacts"]], "probe"
        elif r.kind == "bullet_impact":
            points, mark = [r.data["point"]], "bullet"
        elif r.kind == "bullet_strike":  # what a round struck after going through
            points, mark = [r.data["point"]], "strike"
        for point in points:
            far.append(abs(float(point[1])))
            symbol, colour, label = marks[mark]
            ax.plot(
                point[0],
                point[1],
                symbol,
                color=colour,
                markersize=8,
                zorder=5,
                label=None if mark in shown else label,
            )
            shown.add(mark)
    ax.set_aspect("equal")
    # The lane's middle 8 m, or wider where something drawn lies beyond it (a strike on a wall).
    drawn = [float(np.abs(track[:, 1]).max()) for _, _, track in people] + far
    half = max([4.0, *(y + 0.3 for y in drawn)])
    ax.set_ylim(-half, half)
    ax.set_xlabel("downrange (m)")
    ax.set_ylabel("left (m)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _map(
    records: list[LogRecord],
    cover: Sequence[dict[str, Any]] = (),
    props: Sequence[PropPart] = (),
    crowds: Sequence[dict[str, Any]] = (),
) -> str:
    return _png(_map_figure(records, cover, props, crowds))


def _crosses(
    a: Sequence[float], b: Sequence[float], box: tuple[float, float, float, float]
) -> bool:
    """Whether the segment a-b (top-down, x and y) passes through the box (x0, y0, x1, y1):
    Liang-Barsky clipping."""
    (ax, ay), (bx, by) = (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))
    x0, y0, x1, y1 = box
    lo, hi = 0.0, 1.0
    for d, near, far in ((bx - ax, x0 - ax, x1 - ax), (by - ay, y0 - ay, y1 - ay)):
        if abs(d) < 1e-12:
            if near > 0 or far < 0:
                return False
            continue
        t0, t1 = sorted((near / d, far / d))
        lo, hi = max(lo, t0), min(hi, t1)
        if lo > hi:
            return False
    return True


def crowd_note(records: list[LogRecord], crowds: Sequence[dict[str, Any]]) -> str:
    """What the page says under a map that draws a crowd (nu23 #6): a crowd is a scoring zone
    (FIRE-01 judges a round with one in its line of fire), not simulated bodies, so no round is
    ever logged striking anyone in it; each round whose path (muzzle, first strike, what it
    struck after going through) crosses a crowd's box is named. Empty with no crowd."""
    if not crowds:
        return ""
    boxes = [
        (
            str(c["name"]),
            (
                c["x_m"] - c["depth_m"] / 2,
                c["y_m"] - c["width_m"] / 2,
                c["x_m"] + c["depth_m"] / 2,
                c["y_m"] + c["width_m"] / 2,
            ),
        )
        for c in crowds
    ]
    crossed = []
    for n, r in enumerate(records):
        if r.kind != "officer_action" or r.data.get("action") != "firearm_fired":
            continue
        path = [r.data["muzzle"]["position_m"]]
        for later in records[n + 1 :]:
            first = later.kind == "bullet_impact" and len(path) == 1
            if first or (later.kind == "bullet_strike" and len(path) > 1):
                path.append(later.data["point"])
            elif later.kind == "officer_action" and later.data.get("action") == "firearm_fired":
                break
        for name, box in boxes:
            if any(_crosses(a, b, box) for a, b in itertools.pairwise(path)):
                crossed.append(f"the round fired at {r.t:.2f} s crosses the crowd {name!r}")
    said = (
        "A crowd on the map is a scoring zone, not simulated bodies: a round in its line of"
        " fire is judged (FIRE-01), but no one in it is struck in the log or drawn hit."
    )
    if crossed:
        said += (
            f" Here {'; '.join(crossed)}: the people there were at risk, though the log"
            " records no strike on them."
        )
    return f"<p class='warning'>{html.escape(said)}</p>"


def shot_subject_eye(records: list[LogRecord], shot: LogRecord, drill: Drill) -> Pose:
    """The shot subject's eye in the report's picture, looking at the muzzle: at its stance's
    eye height (`Viewpoint.eye`: a kneeling subject sees from lower down, nu23 #2), brought
    0.3 m toward the officer so that its own head, drawn, is behind the camera."""
    from range.review.replay import Viewpoint

    where = next(r for r in reversed(records) if r.kind == "positions" and r.t <= shot.t + 1e-9)
    ox = where.data["officer"][0]
    subject_id = shot.data.get("subject") or drill.subjects[0].id
    ex, ey, ez = Viewpoint(subject_id).eye(records, drill, shot.t).position_m
    eye = (ex + 0.3 * math.copysign(1, ox - ex), ey, ez)
    origin = shot.data["muzzle"]["position_m"]
    return Pose(eye, look_rotation(np.asarray(origin) - np.asarray(eye)))


def shot_images(
    records: list[LogRecord], shot: LogRecord, drill: Drill, renderer: Renderer
) -> tuple[str, str]:
    """The officer's and the shot subject's views at the moment of `shot`. The bodies are posed
    as the replay poses them at that time (`range.review.mirror.Playback`, one place for it,
    nu23 #2): the officer's arms up with the weapon in his hand, each subject animated in its
    logged stance, holding what it held; the subject sees from its stance's eye height
    (`range.review.replay.Viewpoint`). On them: the shot's path from the logged muzzle to
    each impact, and on through what a round that went through struck next."""
    from range.review.mirror import Playback

    renderer.clear_posed()  # another shot's, drawn with this renderer before
    Playback(records, renderer, drill, officer=True).update(shot.t)
    scene = Scene()
    scene.setting(drill.scene)
    renderer.lighting = LIGHTING[drill.scene.lighting]
    muzzle = shot.data["muzzle"]
    origin = tuple(muzzle["position_m"])
    # At dusk and night the weapon light shines along the bore the shot left from.
    renderer.cone = None
    if drill.scene.lighting in OFFICER_LIGHT:
        renderer.cone = ConeLight.on_weapon(Pose(origin, tuple(muzzle["orientation"])))
    after = [
        r for r in records if r.t >= shot.t - 1e-9 and r.kind in ("probe_impacts", "bullet_impact")
    ]
    impacts = []
    if after:
        hit = after[0]
        impacts = (
            [tuple(i["point"]) for i in hit.data["impacts"]]
            if hit.kind == "probe_impacts"
            else [tuple(hit.data["point"])]
        )
        colour = COLOURS["probe" if hit.kind == "probe_impacts" else "bullet"]
        for point in impacts:
            scene.marker(point, colour, 0.03)
            scene.path(origin, point, colour, 0.004)
        if hit.kind == "bullet_impact":
            # A round that went through: its path on to each thing it struck next.
            start = impacts[0]
            for r in records[records.index(hit) + 1 :]:
                if r.kind != "bullet_strike" or abs(r.t - hit.t) > 1e-9:
                    break
                point = tuple(r.data["point"])
                scene.marker(point, colour, 0.03)
                scene.path(start, point, colour, 0.004)
                start = point
    renderer.load(scene)
    officer_view = Pose(
        (origin[0] - 0.3, origin[1], origin[2] + 0.15),
        look_rotation(np.asarray(impacts[0] if impacts else (10.0, 0.0, 1.2)) - np.asarray(origin)),
    )
    subject_view = shot_subject_eye(records, shot, drill)
    return (_png(renderer.render(officer_view, FOV)), _png(renderer.render(subject_view, FOV)))


def _paper(
    renderer: Renderer,
    target: PaperTarget,
    hits: list[tuple[int, LogRecord]],
    counted: dict[int, Counted],
) -> str:
    """One stage's paper target, face on, with its holes: a round that counts nothing (late,
    beyond the string's count, in a cut string) marked grey."""
    distance = hits[0][1].data["distance_m"]
    scene = Scene()
    scene.paper_target(target, (distance, 0.0, 1.4))
    for n, s in hits:
        x, y, z = s.data["point"]
        if x > distance:  # stopped beyond the paper: where it crossed the target's plane
            k = distance / x
            y, z = y * k, 1.4 + (z - 1.4) * k
        scoring = n in counted and not counted[n].note
        colour = COLOURS["bullet"] if scoring else (0.55, 0.55, 0.55)
        scene.marker((distance - 0.004, y, z), colour, 0.012)
    renderer.load(scene)
    # Face on, framing the whole target.
    back = (target.height_in * 0.0254) / (2 * math.tan(math.radians(FOV) / 2)) * 1.15
    image = renderer.render(Pose((distance - back, 0.0, 1.4), look_rotation((1, 0, 0))), FOV)
    return _png(image)


def _banner(warning: str | None) -> str:
    """A red line at the top of a report whose log is not the one written (the caller's
    `range.cli.corrections.edited_log`): the page shows the run rescored as the log is now."""
    if not warning:
        return ""
    return (
        "<p style='color:#a00;font-weight:bold'>WARNING: "
        f"{html.escape(warning)}: this review is of the log as it is now, not as recorded.</p>"
    )


def _course_report(
    run_dir: Path,
    records: list[LogRecord],
    out: Path | None,
    warning: str | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """A qualification attempt: each stage's target, face on, with its hits; `notes`: warnings
    shown under the heading (a kept shooter file changed since)."""
    from physics.targets import TARGETS
    from range.runs.saved import saved_course
    from scoring.course import attempt_from_log, count_fired, rescore_attempt

    started = records[0].data
    course = saved_course(run_dir, started)
    target = TARGETS[course.target]
    # One judge: the score `openrange score` gives (scoring/course.py), each round counted as it
    # counts there (late, beyond the string's count, in a string cut and reshot: nothing).
    score = rescore_attempt(course, records)
    judged = attempt_from_log(course, records)
    counted = {
        c.fired.record: c
        for c in count_fired(course, judged.shots, judged.deployments, judged.faulted)
    }
    shots = [(n, r) for n, r in enumerate(records) if r.kind == "shot"]
    cartridges = [(n, r) for n, r in enumerate(records) if r.kind == "deployment"]
    sections = []
    with Renderer(360, 480) as renderer:
        for i, stage in enumerate(course.stages):
            hits = [(n, s) for n, s in shots if s.data["stage"] == i]
            pulled = [(n, d) for n, d in cartridges if d.data["stage"] == i]
            if not hits and not pulled:
                continue
            image = ""
            if hits:
                image = _paper(renderer, target, hits, counted)
            # What each round and cartridge counted, from the rescore; why some count nothing.
            mine = [counted[n] for n, _ in [*hits, *pulled] if n in counted]
            cut = len(hits) + len(pulled) - len(mine)
            notes = [c.note for c in mine if c.note]
            why = "; ".join(f"{notes.count(note)} {note}" for note in dict.fromkeys(notes)) + (
                f"; {cut} in a string cut and reshot" if cut else ""
            )
            what = ", ".join(
                f"{n} {word}"
                for n, word in ((len(hits), "rounds"), (len(pulled), "cartridges"))
                if n
            )
            sections.append(
                "<figure>"
                + (
                    f"<img alt='target, stage {html.escape(stage.name)}' src='{image}'>"
                    if image
                    else ""
                )
                + f"<figcaption>Stage {html.escape(stage.name)}: {what},"
                f" {score.stages[i].points} points"
                + (f" (counting nothing: {html.escape(why.lstrip('; '))})" if why else "")
                + "</figcaption></figure>"
            )
    so_far = f"{score.points} points of {score.max_points}, {score.hits} hits"
    if score.cut_short:
        last = records[-1].t - records[0].t
        verdict = (
            f"<b>{Outcome.INCOMPLETE}</b>: the log stops {last:.1f} s in with no attempt_ended;"
            " the attempt was cut short and is not graded."
        )
    elif not score.complete:
        verdict = (
            f"<b>{Outcome.INCOMPLETE}</b>: a string interrupted twice (a device fault,"
            f" the headset taken off) is still to be reshot ({so_far} so far)."
        )
    else:
        graded = "QUALIFIED" if score.passed else "NOT QUALIFIED"
        verdict = f"<b>{graded}</b>: {so_far}"
        shooter = str(started.get("shooter", "officer"))
        if shooter != "officer":  # a scripted shooter fired it: never a qualification
            verdict = (
                f"<b>SIMULATED</b> (scripted shooter {html.escape(shooter)}): not a"
                f" qualification (would be {graded}): {so_far}"
            )
    # An edited copy of a built-in course is flagged, as the records flag it.
    label, note = content_label("course", course.id, str(started.get("course_sha256") or ""))
    note = f" {note[0].upper()}{note[1:]}." if note else ""
    kept = "".join(f"<p class='warning'>{html.escape(n)}</p>" for n in notes)
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Qualification:"
        f" {html.escape(course.title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "figure{display:inline-block;margin:0 1em 1em 0}</style></head><body>"
        f"<h1>Qualification: {html.escape(course.title)}</h1>{_banner(warning)}{kept}"
        f"<p>Course {html.escape(label)},"
        f" seed {started['seed']}, officer {html.escape(str(started['officer_name']))}."
        f"{html.escape(note)} {verdict}</p>"
        f"<h2>Targets</h2>{''.join(sections)}</body></html>\n"
    )
    out = out or run_dir / "report.html"
    outfile.write_text(out, page)  # whole or absent; a full disk names the file
    return out


def clip_href(run_dir: Path, clip: str, out_dir: Path) -> str:
    """A link to `clip` (relative to `run_dir`) that resolves from a page written in `out_dir`:
    a relative path where one exists, else an absolute file URI (another drive)."""
    target = (run_dir / clip).resolve()
    try:
        return quote(Path(os.path.relpath(target, out_dir.resolve())).as_posix())
    except ValueError:  # no relative path between them (Windows: another drive)
        return target.as_uri()


def _heard(
    records: list[LogRecord],
    corrections: list[Correction],
    run_dir: Path | None = None,
    out_dir: Path | None = None,
    listed: Sequence[dict[str, Any]] = (),
    voice: VoiceProblem | None = None,
    acts_heard: Sequence[dict[str, Any]] = (),
) -> str:
    """Every utterance heard (`officer_spoke`, source "recogniser") with its act, and the
    instructor's correction of it where there is one (the score above is with the
    corrections); and every act the instructor marked live as heard when the recogniser missed
    it (`instructor_command` "mark", source "instructor"), which the score counts too. Each
    clip links to the audio from `out_dir`, where the page is written (default: the run
    folder); in a simulated run the recording's time is the run's, so the link names the
    utterance's span too (a media fragment, `#t=start,end`, which browsers' players seek to).
    `listed`: `corrections` as the score lists them (`Score.corrections`, in the same order),
    so an undo names the correction it undoes, in `speech correct`'s words.
    `voice`: why the officer's voice kept with the run is missing or changed (`voice_problem`):
    each clip of it says so.
    `acts_heard`: the score's acts heard (`Score.speech["heard"]`): a scripted officer's
    commands (`verbal_command` actions, source "script") are listed with the acts the score
    counts in their words, and the page says that they are no recordings: nothing to correct."""
    as_listed = dict(zip(map(id, corrections), listed, strict=False))

    def fixed(fix: Correction | None) -> str:
        if fix is None:
            return ""
        listed = as_listed.get(id(fix), {})  # an undo says what it undoes; else the act
        change = correction_change(listed) if listed.get("undoes") else fix.act
        return f"{change} by {fix.by}, {fix.made}" + (f" ({fix.reason})" if fix.reason else "")

    started = run_started(records) or {}
    same_clock = started.get("officer") != "live"
    rows = []
    scripted = 0
    # The acts the instructor added in review where the recogniser heard nothing, each among
    # the records of its time (as the score counts it: a mark at the end of its words).
    added = {c.utterance_t: c for c in added_in_force(corrections)}
    for r in apply_corrections(records, list(added.values())) if added else records:
        d = r.data
        if r.kind == "instructor_command" and d.get("added"):
            fix = added[r.t]
            clip = ""
            voice_file = started.get("voice_file")
            if isinstance(voice_file, str) and voice_file and run_dir is not None:
                href = clip_href(run_dir, voice_file, out_dir or run_dir)
                if same_clock:
                    href += f"#t={fix.start_s:g},{fix.end_s:g}"
                clip = f"<a href='{html.escape(href)}'>audio</a>"
            why = f" ({fix.reason})" if fix.reason else ""
            rows.append(
                f"<tr><td>{span_text(fix.start_s or 0.0, fix.utterance_t)}</td>"
                "<td>(not heard by the recogniser)</td>"
                f"<td>{html.escape(fix.act)}</td><td></td>"
                f"<td>instructor, in review</td>"
                f"<td>{html.escape(f'added by {fix.by}, {fix.made}{why}')}</td>"
                f"<td>{clip}</td></tr>"
            )
            continue
        if r.kind == "officer_action" and d.get("action") == "verbal_command":
            # The script's words: counted as the acts the score found in them (nu19 #6).
            acts = [
                str(h["act"])
                for h in acts_heard
                if h.get("source") == "script" and abs(float(h["t"]) - r.t) < 1e-9
            ]
            scripted += 1
            rows.append(
                f"<tr><td>{r.t:.2f} s</td><td>{html.escape(str(d.get('say') or ''))}</td>"
                f"<td>{html.escape(', '.join(acts))}</td><td></td>"
                "<td>scripted officer</td><td></td><td></td></tr>"
            )
            continue
        if r.kind == "instructor_command" and d.get("command") == "mark":
            # A live mark: an act the recogniser missed, heard by the instructor and scored
            # (and corrected as an utterance is).
            corrected = fixed(correction_of(r, corrections))
            rows.append(
                f"<tr><td>{r.t:.2f} s</td><td>{html.escape(str(d.get('text') or ''))}</td>"
                f"<td>{html.escape(str(d.get('act') or ''))}</td><td></td>"
                f"<td>instructor ({html.escape(str(d.get('by') or '?'))}, marked live)</td>"
                f"<td>{html.escape(corrected)}</td><td></td></tr>"
            )
            continue
        if r.kind != "officer_spoke":
            continue
        corrected = fixed(correction_of(r, corrections))
        clip = ""
        if d.get("clip"):
            href = str(d["clip"])
            if run_dir is not None:
                href = clip_href(run_dir, href, out_dir or run_dir)
            if same_clock:
                href += f"#t={d['start_s']:g},{d['end_s']:g}"
            clip = f"<a href='{html.escape(href)}'>audio</a>"
            if voice is not None and run_dir is not None and run_dir / str(d["clip"]) == voice.path:
                clip = "(audio missing)" if voice.missing else f"{clip} (audio changed)"
        heard = html.escape(d["text"])
        phrase = d.get("phrase")
        if phrase and phrase != d["text"]:  # the act's own words, the utterance beside them
            heard = f"{html.escape(str(phrase))} <small>(in &ldquo;{heard}&rdquo;)</small>"
        rows.append(
            f"<tr><td>{span_text(d['start_s'], d['end_s'])}</td><td>{heard}</td>"
            f"<td>{html.escape(d['act'])}</td><td>{d['confidence']:.2f}</td>"
            f"<td>recogniser</td><td>{html.escape(corrected)}</td><td>{clip}</td></tr>"
        )
    if not rows:
        return "<p>No speech was heard in this run (no officer_spoke records).</p>"
    note = ""
    if scripted:
        note = (
            f"<p>The scripted officer's {scripted} command(s) are the drill script's words, not"
            " a recording: the score counts the acts in them, but there is no audio and no"
            " officer_spoke record, so there is nothing for <code>openrange speech"
            " correct</code> to correct.</p>"
        )
    return (
        "<table><tr><th>when</th><th>heard</th><th>act</th><th>confidence</th><th>source</th>"
        "<th>instructor's correction</th><th>clip</th></tr>" + "".join(rows) + "</table>" + note
    )


def _earlier_corrections(not_applied: Sequence[dict[str, Any]]) -> str:
    """The corrections replaced by a later one of the same act (`Score.corrections_not_applied`
    marked `superseded`), as `score` lists them: the record of who changed what, not a fault
    (rc17 #6), so the page keeps it below what was heard. "" when there are none."""
    history = earlier_corrections(not_applied)
    if not history:
        return ""
    items = "".join(
        f"<li>{c['when']} {html.escape(c['words'])}: "
        f"{html.escape(str(c['was']))} &rarr; {html.escape(str(c['act']))} by "
        f"{html.escape(str(c['by']))}, {html.escape(str(c['made']))}</li>"
        for c in history
    )
    return f"<h3>Earlier corrections (replaced by a later one of the same act)</h3><ul>{items}</ul>"


def _tell(say: Callable[[str], None], voice: str | None, notes: list[str]) -> None:
    """Tell `say` the warnings the page shows: the officer's voice's, then the corrections'."""
    for line in [*([] if voice is None else [f"warning: {voice}"]), *notes]:
        say(line)


# The log kinds the page's Timeline lists, and the fields of each worth showing.
TIMELINE = ("phase_entered", "officer_action", "officer_spoke", "incapacitation_started")
TIMELINE_MORE = ("run_suspended", "run_resumed", "untracked_shot", "run_ended", "subject_spoke")
TIMELINE_FIELDS = (
    *("subject", "phase", "behaviour", "threat", "action", "say", "state", "reason"),
    *("act", "text", "answer"),
)


def _timeline(
    records: list[LogRecord],
    corrections: list[Correction],
    listed: Sequence[dict[str, Any]] = (),
) -> str:
    """The Timeline's rows: phases, what the officer did and said (`officer_spoke`: the act
    and the words heard, the cause of a talk-down's phase change, with the instructor's
    correction where there is one), incapacitations, suspensions, the subjects' lines and the
    debrief's answers, in the log's order. `listed`: `corrections` as the score lists them,
    so an undo is said in the words of `score`, "What was heard" and `speech correct` ("put
    back to the act heard"), never as a correction (nu21 #6)."""
    as_listed = dict(zip(map(id, corrections), listed, strict=False))
    kinds = (*TIMELINE, *TIMELINE_MORE, "debrief_answer")
    rows = []
    for r in records:
        if r.kind not in kinds:
            continue
        detail = ", ".join(f"{k}={v}" for k, v in r.data.items() if k in TIMELINE_FIELDS)
        if r.kind == "officer_spoke":  # the act, then the words it was heard in
            detail = f"act={r.data.get('act')}, text={r.data.get('text')}"
            fix = correction_of(r, corrections)
            if fix is not None:
                undo = as_listed.get(id(fix), {})
                change = (
                    correction_change(undo) if undo.get("undoes") else f"corrected to {fix.act}"
                )
                detail += f" ({change} by {fix.by})"
        rows.append(
            f"<tr><td>{r.t:.2f} s</td><td>{html.escape(r.kind)}</td>"
            f"<td>{html.escape(detail)}</td></tr>"
        )
    return "".join(rows)


def write_report(
    run_dir: Path,
    out: Path | None = None,
    warning: str | None = None,
    say: Callable[[str], None] | None = None,
    recorded: RecordedCorrections | None = None,
) -> Path:
    """The after-action review of a saved run (a drill run's, or a qualification attempt's,
    whole across its parts) as one HTML page, `out` or RUN_DIR/report.html; `warning`: why its
    log is not the one written, shown in red at the top (None: nothing to say). `say` is told
    each warning about the officer's voice and the corrections ("warning: ..." for the voice),
    as the page shows them, so `openrange report` need not check them again. `recorded`: the
    speech corrections the records chained for the run (`recorded_corrections`), which the
    page applies where the corrections file differs from them, saying so."""
    # Refused before anything is rendered: a run's own file, a device (range/outfile.py).
    outfile.check(out or run_dir / "report.html")
    records = read_events(run_dir)
    if not records:
        raise EventLogError(run_dir / EVENTS, 1, "the log holds no records: nothing to review")
    if records[0].kind == "attempt_started":
        from range.runs.saved import attempt_log

        # A resumed attempt is reviewed whole, from every part's log, whichever part is given.
        kept = kept_script_problems(run_dir, records[0].data)
        path = _course_report(run_dir, attempt_log(run_dir), out, warning, kept)
        if say is not None:
            lines = [*(f"warning: {p}" for p in kept), *correction_notes(run_dir, records)]
            _tell(say, voice_problem(run_dir, records), lines)
        return path
    started = records[0].data
    drill = saved_drill(run_dir, started)
    # Checked against the records' chained corrections: theirs are applied where they differ.
    fixes, said = checked_notes(run_dir, records, recorded)
    # The officer script kept with the run, checked as the drill's copy is (nu24 #6).
    said[:0] = [f"warning: {p}" for p in kept_script_problems(run_dir, started)]
    every = fixes[0]
    score = corrected_score(run_dir, records, None, fixes)
    # Only those applied are shown beside what was heard; the rest are said, one line each.
    corrections = score.applied(every)
    notes = "".join(f"<p class='warning'>{html.escape(note)}</p>" for note in said)
    shots = [
        r
        for r in records
        if r.kind == "officer_action" and r.data["action"] in ("taser_fired", "firearm_fired")
    ]
    rows = _timeline(records, corrections, score.corrections)
    shot_html = []
    with Renderer(IMAGE_W, IMAGE_H) as renderer:
        for n, shot in enumerate(shots, 1):
            mine, theirs = shot_images(records, shot, drill, renderer)
            shot_html.append(
                f"<h3>Shot {n}: {html.escape(shot.data['action'])} at {shot.t:.2f} s</h3>"
                f"<figure><img alt='officer view, shot {n}' src='{mine}'><figcaption>The officer's"
                " view</figcaption></figure>"
                f"<figure><img alt='subject view, shot {n}' src='{theirs}'><figcaption>The"
                " subject's view</figcaption></figure>"
            )
    findings = "".join(
        f"<tr class='{'critical' if finding_mark(score, f)[0] == '!' else f.kind}'>"
        f"<td>{f.t:.2f} s</td><td>{f.rule}</td><td>{finding_kind(score, f)}</td>"
        f"<td>{f.points:+.0f}</td><td>{html.escape(f.message)}</td></tr>"
        for f in score.findings
    )
    verdict = html.escape(verdict_line(score))
    if not score.incomplete:  # an INCOMPLETE run is not graded: no decision, only why
        verdict = f"<b>{html.escape(score.decision)}</b>: {verdict}"
    voice = voice_problem(run_dir, records)
    if say is not None:
        _tell(say, voice, said)
    heard = _heard(
        records,
        corrections,
        run_dir,
        out.parent if out else run_dir,
        score.corrections,
        voice,
        score.speech.get("heard", []),
    )
    if voice is not None:
        notes = f"<p class='warning'>{html.escape(voice)}</p>{notes}"
    notes += _earlier_corrections(score.corrections_not_applied)
    # An edited copy of a built-in drill is flagged, as `score` and the records flag it.
    label, note = content_label("drill", drill.id, str(started.get("drill_sha256") or ""))
    note = f" {note[0].upper()}{note[1:]}." if note else ""
    where = _map(
        records, started.get("cover", []), drill.scene.prop_parts(), started.get("crowds", [])
    )
    crowds = crowd_note(records, started.get("crowds", []))
    # A device used without a valid calibration, on a range master's override (nu20 #6).
    overrides = "".join(
        f"<p class='warning'>UNCALIBRATED: {html.escape(said)}</p>"
        for said in uncalibrated(records)
    )
    if score.weapons_left_out:  # the range master's --without (rc21 #5)
        overrides += (
            f"<p class='warning'>Left out: {html.escape(left_out(score.weapons_left_out))}</p>"
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>After-action review: {html.escape(drill.title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:3px 8px;text-align:left;font-size:90%}}
figure{{display:inline-block;margin:0 1em 1em 0}}.critical{{color:#a00}}.finding{{color:#a60}}
.credit{{color:#060}}</style></head><body>
<h1>After-action review: {html.escape(drill.title)}</h1>{_banner(warning)}
<p>Drill {html.escape(label)}, seed {started.get("seed")},
{html.escape(run_who(started))}.{html.escape(note)}
{verdict}.</p>{overrides}
<h2>Threat and actions over time</h2><img alt="threat over time" src="{_threat_chart(records)}">
<h2>Where everyone was</h2><img alt="top-down map" src="{where}">{crowds}
<h2>Shots</h2>{"".join(shot_html) or "<p>No shots were fired.</p>"}
<h2>Score</h2><table><tr><th>time</th><th>rule</th><th>kind</th><th>points</th><th>finding</th></tr>
{findings}</table>
<h2>What was heard</h2>{heard}{notes}
<h2>Timeline</h2><table><tr><th>time</th><th>event</th><th>detail</th></tr>{rows}</table>
<p>Expected response: {html.escape(" ".join(drill.expected_response.split()))}</p>
</body></html>
"""
    out = out or run_dir / "report.html"
    outfile.write_text(out, page)  # whole or absent; a full disk names the file
    return out
