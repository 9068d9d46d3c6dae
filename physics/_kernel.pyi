"""physics._kernel (physics/_kernel.c): the compiled inner loops of posing and probe flight.

Every array is float64 (int64 where named), C-contiguous; outputs are allocated by the caller
and written in place. Metres, seconds and radians throughout; J joints (= segments), F face
planes per hull, M sub-chords of N flights.
"""

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from physics.human import HumanPose

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

def forward_kinematics(
    rests: Sequence[F64],
    joints: Sequence[Mapping[str, F64]],
    roots: Sequence[F64],
    offsets: Sequence[tuple[float, float, float]],
    placements: Sequence[tuple[F64, tuple[float, float, float]]] | None,
    index: dict[str, int],
    parents: Sequence[int],
    pos: F64,
    rot: F64,
) -> None:
    """Joint frames of S subjects: subject s has rest joints `rests[s]` (J, 3), the joint
    rotations `joints[s]` (name -> (3, 3) in the parent's frame; absent: identity; `index`
    maps a name to its joint), the pelvis turned by `roots[s]` (3, 3) and moved by
    `offsets[s]`. `parents[j]` is joint j's parent (-1 for joint 0; parents before children).
    Writes pos (S, J, 3) and rot (S, J, 3, 3): R_0 = root @ local_0, p_0 = rest_0 + offset,
    R_j = R_p @ local_j, p_j = p_p + R_p @ (rest_j - rest_p). With `placements` (yaw (3, 3),
    feet (x, y, z)) per subject, the frames are then carried into the world: p <- feet +
    yaw @ p, R <- yaw @ R."""

def cast_subject(
    pose_at: Callable[[float], tuple[F64, F64]],
    in_box: NDArray[np.bool_],
    starts: F64,
    stops: F64,
    chord_d: F64,
    chord_dd: F64,
    before: F64,
    mid_t: F64,
    max_speed_mps: float,
    window: int,
    centre: F64,
    radius: F64,
    rest: F64,
    normals: F64,
    offsets: F64,
    margin: float,
    first: I64,
    hit_f: F64,
    hit_seg: I64,
    hit_rest: F64,
) -> int:
    """RangeWorld.cast_moving's subject part for one subject; returns how many poses it asked
    for. Sub-chords starts -> stops (M, N, 3) of N flights, chord_d = stops - starts,
    chord_dd = |chord_d|^2 (M, N; at least 1e-30), the path flown before each sub-chord
    before (M + 1, N) metres, each sub-chord's middle time mid_t (M,) seconds, and `in_box`
    (M, N): the sub-chords that can reach the subject (those in its box grown by its motion;
    only those before a flight's `first` hit on a subject tested before are near it). The
    subject: its segments' bounding spheres (centre (J, 3) from each joint in the rest
    frame, radius (J,)), its rest joints (J, 3), its hulls' outward face planes in the rest
    frame, normals (J, F, 3) and offsets (J, F) (inside where n . q <= d), and `margin`, the
    hull's collision margin; no point of it moves faster than `max_speed_mps`.

    From the first near sub-chord on, the subject is posed at a sub-chord r's middle time
    (`pose_at(t)` returns its joint frames in the world, positions (J, 3) and rotations
    (J, 3, 3)) and sub-chord r and the `window` after it are measured against that pose:
    each flight's first hull entry on r, and each one's gap (a sphere's distance, or inside
    a sphere the hull planes' lower bound less `margin`). The next pose is the first later
    sub-chord that the path flown plus the subject's motion since could bring within that
    gap (conservative advancement), skipping the window's sub-chords whose gap exceeds the
    subject's motion and, past the window, those whose sphere gap does. `first` (N,) holds
    each flight's first hit sub-chord (M: none yet; only flights with r < first are tested)
    and is lowered where this subject is hit earlier, with hit_f (N,) the fraction along
    it, hit_seg (N,) the segment and hit_rest (N, 3) the entry point in that segment's rest
    frame."""

def sub_chords(
    fine: F64,
    reach_m: float,
    t_fine: F64,
    end_s: F64,
    boxes: F64,
    grow: F64,
    chord_d: F64,
    stops: F64,
    chord: F64,
    chord_dd: F64,
    before: F64,
    cut: F64,
    in_box: NDArray[np.bool_],
) -> None:
    """RangeWorld.cast_moving's sub-chords from their ends fine (M + 1, N, 3) (the sub-chord
    m of flight i runs from fine[m, i] to fine[m + 1, i], up to a path of `reach_m` metres
    (a wire runs out; inf: no limit)), at times t_fine (M + 1,) seconds, of flights that end
    on the rest of the world at end_s (N,) seconds. Writes each sub-chord's length chord
    (M, N), the path before it before (M + 1, N), the fraction of it within the reach cut
    (M, N), its displacement chord_d = (fine[m + 1] - fine[m]) * cut (M, N, 3), its end
    stops = fine[m] + chord_d, chord_dd = max(|chord_d|^2, 1e-30), and in_box (S, M, N):
    whether the sub-chord, started within the reach and before the flight's end, meets
    subject s's box at the trigger boxes (S, 2, 3) (lo, hi) grown by grow (M,) metres."""

def chords(
    points: F64,
    reach_m: float,
    chord: F64,
    before: F64,
    cut: F64,
    ends: F64,
    live: NDArray[np.bool_],
) -> None:
    """RangeWorld.cast_paths's chords: N flights sampled at K + 1 points (K + 1, N, 3), each
    chord from points[k] to points[k + 1], up to a path of `reach_m` metres (inf: no
    limit). Writes each chord's length chord (K, N), the path before it before (K + 1, N),
    the fraction of it within the reach cut (K, N), its end moved there ends (K, N, 3)
    (points[k] + (points[k + 1] - points[k]) * cut), and live (K, N): whether it starts
    within the reach."""

def candidates(
    starts: F64,
    ends: F64,
    live: NDArray[np.bool_],
    boxes: F64,
    limit: I64 | None,
    ks: I64,
    ns: I64,
) -> int:
    """RangeWorld.cast_paths's chords to cast, as `count` pairs (ks[:count], ns[:count]) of
    chord and flight, flight-major, chords in order within a flight (a flight's first hit
    comes first): the live chords starts -> ends (K, N, 3), live (K, N), up to the flight's
    limit (N,) where given, whose box meets one of boxes (B, 2, 3) (lo, hi, metres) or reaches
    the floor (z <= 1e-6). ks and ns hold K * N each."""

def first_hits(
    starts: F64,
    ends: F64,
    live: NDArray[np.bool_],
    cut: F64,
    ks: I64,
    ns: I64,
    uid: I64,
    frac: F64,
    picked: I64,
    end_k: I64,
    end_f: F64,
    point: F64,
    target: I64,
) -> None:
    """RangeWorld.cast_paths's flight ends: from its chords starts -> ends (K, N, 3), live
    and cut as `chords` wrote them, and the chords it cast (ks, ns, flight-major, as
    `candidates` gave them) with what each hit, uid (-1: nothing) at fraction frac along it:
    for each of the N flights, picked (the cast chord of its first hit, -1: none), target
    (the body hit, -1: none), and where it ends, end_k (the chord), end_f (the fraction of
    that chord's full length) and point (N, 3); a flight that hit nothing ends at its last
    live chord's cut end."""

def path_ends(
    times_s: F64,
    speeds: F64,
    before: F64,
    chord: F64,
    end_k: I64,
    end_f: F64,
    time: F64,
    speed: F64,
    path: F64,
) -> None:
    """Each flight's time (s), speed (m/s) and path (m) where it ends (chord end_k (N,), at
    fraction end_f (N,)), interpolated along its chord: times_s (K + 1,), speeds (K + 1, N),
    before (K + 1, N), chord (K, N). Writes time, speed, path (N,)."""

def deploy(
    position: tuple[float, float, float],
    orientation: tuple[float, float, float, float],
    normals: F64 | None,
    probes: int,
    cos_spread: float,
    sin_spread: float,
    separation_in: float,
    in_m: float,
    reach_m: float,
    elevation0: float,
    elevation_step: float,
    table: F64,
    times_s: F64,
    scene: tuple[I64, F64, F64, F64, F64, F64, F64, F64, F64, F64, I64],
    static_boxes: F64,
    floor_uid: int,
    hits: tuple[I64, F64] | Callable[[int], Sequence[tuple[object, ...]]] | None,
    cand_k: I64,
    cand_n: I64,
    cand_a: F64,
    cand_b: F64,
    out_f: F64,
    out_i: I64,
    out_points: F64 | None = None,
    out_speeds: F64 | None = None,
) -> int:
    """One trigger pull's `probes` (1 or 2) against still subjects, launch to ends
    (RangeWorld.cast_deployment). Launch (taser.probe_launch): the muzzle at `position`
    turned by the quaternion `orientation` (x, y, z, w; pose.quat_to_matrix's arithmetic;
    columns bore, left, top); the top probe along the bore, the bottom one `separation_in`
    x `in_m` metres lower, turned down by the spread (cos_spread, sin_spread); each tilted by
    tan of its `normals` row (P, 2) about its left and top axes and normalised
    (flight.angular_scatter; None: no dispersion). Flight (SampledFlights.flights): the
    table (E, 3, K + 1: forward, up, speed at `times_s` (K + 1,), K <= 64) at the elevation
    atan2(dz, hypot(dx, dy)), rows from `elevation0` every `elevation_step` radians, turned
    to the probe's azimuth. Chords as `chords` with `reach_m`. Each probe's first hit, chord
    by chord: a subject of `scene` (RangeWorld._deploy_scene: body ids (S,), joint frames
    (S, J, 3) and (S, J, 3, 3), sphere centres in the world (S, J, 3), boxes (S, 2, 3),
    radii (S, J), rest joints (S, J, 3), hull planes (S, J, F, 3) and (S, J, F), zone
    thresholds (S, 6) and codes (S, 11 + J), human.zone_arrays) whose box and segment sphere
    the chord meets, clipped exactly by the hull's planes in the segment's rest frame
    (`cast_subject`'s clipping; the first segment wins a tie), or the floor, the plane z = 0
    (fraction za / (za - zb); it wins a tie on its chord). The chords up to that hit whose
    box meets one of `static_boxes` (B, 2, 3) are written, in probe then chord order, to
    cand_k, cand_n (the chord and the probe) and cand_a, cand_b (their ends; room for
    probes x K), and their count returned: without `hits` the ends are final only if it is
    0; else PyBullet's answer for them, (body id (-1: none), fraction along the chord) per
    chord, is merged (a probe's first chord that hit something; it wins a tie): given as
    those two arrays, or asked in the call itself, where `hits` is a callable, by calling it
    once with the count (when there are any) for rayTestBatch's results, one a chord (its
    body id first, its fraction third) (RangeWorld._cast_static). Writes
    out_f (P, 9): end point (3), time (s), speed (m/s), path (m), the hit on the rest body
    (3; NaN off subjects); out_i (P, 3): body id (`floor_uid` for the floor; -1 none),
    region (index into physics.world.REGIONS; -1 off subjects), segment (-1 off
    subjects). With `out_points` (K + 1, P, 3) and `out_speeds` (K + 1, P), both or neither:
    the probes' flights written there too, as SampledFlights.flights gives them (what
    RangeWorld.cast_moving cuts into sub-chords)."""

def link_states(
    rests: Sequence[F64],
    placements: Sequence[tuple[tuple[float, float, float], float, HumanPose]],
    index: dict[str, int],
    joint_count: int,
) -> list[list[list[float]]]:
    """What RangeWorld.sync hands PyBullet's resetJointStatesMultiDof for each subject: its
    pelvis's place [x], [y], [z] (metres: feet + yaw @ (rest_0 + root offset)) and then each
    joint's quaternion [x, y, z, w] (w >= 0; the pelvis's turned by the subject's yaw and the
    pose's root: yaw @ root @ local_0; joints absent from the pose: [0, 0, 0, 1], one list
    shared by all of them, not to be mutated). A placement is the subject's feet (x, y, z),
    yaw (radians about +Z) and pose; rests[s] (J, 3)."""

def rot_y_many(angles: Sequence[float], out: F64) -> None:
    """out (K, 3, 3): the rotation about +Y by each of the K angles (radians), as
    physics.human.rot_y builds it (the same values)."""

def rotation(axis: int, angle: float, out: F64) -> None:
    """out (3, 3): the rotation about +X, +Y or +Z (axis 0, 1, 2) by angle (radians), as
    physics.human.rot_x, rot_y and rot_z build it (the same values)."""
