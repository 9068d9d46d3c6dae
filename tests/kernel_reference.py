"""The numpy forms that physics._kernel replaced, kept as the kernel tests' reference
(tests/test_kernel.py, tests/test_fast_paths.py): the product has one implementation (the
kernel), and these say what it must compute."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from physics.body import BODY_SIZES, SubjectBody
from physics.human import JOINT_INDEX, JOINTS, PARENT, HumanPose, Posed, Skeleton, region_codes
from physics.pose import quat_to_matrix
from physics.taser import Cartridge, flight_plan, probe_launch
from physics.world import Scene


def close(got: NDArray[np.float64], want: NDArray[np.float64]) -> bool:
    """The kernel against numpy: the same bits, or within 1e-12 (numpy's matmul and einsum sum
    three products in an order that depends on its build and the CPU; the kernel's order is
    fixed, so runs replay bit for bit on any machine)."""
    return got.tobytes() == want.tobytes() or bool(np.abs(got - want).max() <= 1e-12)


# The bodies the kernel and the fast paths are checked on: every build and attribute.
BODIES = [
    SubjectBody(),
    SubjectBody(size=BODY_SIZES["small"], child=True),
    SubjectBody(size=BODY_SIZES["large"], elderly=True),
    SubjectBody(pregnant=True),
]


def random_pose(rng: np.random.Generator) -> HumanPose:
    """A random pose: 80 % of the joints turned at random, the root offset by ~0.3 m."""
    names = [n for n in JOINTS if rng.random() < 0.8]
    mats = Rotation.random(len(names) + 1, random_state=rng).as_matrix()
    offset = tuple(float(v) for v in rng.normal(0.0, 0.3, 3))
    return HumanPose(offset, mats[-1], dict(zip(names, mats[:-1], strict=True)))  # type: ignore[arg-type]


F64 = NDArray[np.float64]


def rot_x(a: float) -> F64:
    """human.rot_x before physics._kernel.rotation: numpy from a 9-tuple."""
    c, s = math.cos(a), math.sin(a)
    return np.array((1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c)).reshape(3, 3)


def rot_y(a: float) -> F64:
    """human.rot_y before physics._kernel.rotation."""
    c, s = math.cos(a), math.sin(a)
    return np.array((c, 0.0, s, 0.0, 1.0, 0.0, -s, 0.0, c)).reshape(3, 3)


def rot_z(a: float) -> F64:
    """human.rot_z before physics._kernel.rotation."""
    c, s = math.cos(a), math.sin(a)
    return np.array((c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)).reshape(3, 3)


def _levels() -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Joints grouped by depth below the pelvis, each with its parents: a level's frames
    depend only on the level above, so each is one batched product."""
    depth = {JOINTS[0]: 0}
    for name in JOINTS[1:]:
        parent = PARENT[name]
        assert parent is not None
        depth[name] = depth[parent] + 1
    out = []
    for d in range(1, max(depth.values()) + 1):
        names = [n for n in JOINTS if depth[n] == d]
        out.append(
            (
                np.array([JOINT_INDEX[n] for n in names]),
                np.array([JOINT_INDEX[PARENT[n] or ""] for n in names]),
            )
        )
    return out


LEVELS = _levels()


def reference_fk(skeleton: Skeleton, pose: HumanPose) -> Posed:
    """forward_kinematics in numpy: one batched product a depth level of the tree."""
    rest = skeleton.rest
    local = np.tile(np.eye(3), (len(JOINTS), 1, 1))
    for name, m in pose.joints.items():
        local[JOINT_INDEX[name]] = m
    pos = np.empty_like(rest)
    rot = np.empty((len(JOINTS), 3, 3))
    rot[0] = pose.root_rotation @ local[0]
    pos[0] = rest[0] + pose.root_offset_m
    for idx, par in LEVELS:
        parent_rot = rot[par]
        rot[idx] = parent_rot @ local[idx]
        pos[idx] = pos[par] + (parent_rot @ (rest[idx] - rest[par])[:, :, None])[:, :, 0]
    return Posed(pos, rot)


def reference_in_world(posed: Posed, yaw: F64, feet: tuple[float, float, float]) -> Posed:
    """RangeWorld's subject frame carried into the world (the numpy form of _in_world)."""
    return Posed(np.array(feet) + posed.position @ yaw.T, yaw @ posed.rotation)


def sphere_gaps(a: F64, d: F64, dd: F64, c: F64, radius: F64) -> F64:
    """(R, J) distances from R segments a -> a + d ((R, 3); dd = |d|^2, at least 1e-30) to J
    spheres (centres c (J, 3), radii (J,)), negative inside."""
    ac = c[None, :, :] - a[:, None, :]  # (R, J, 3)
    t = np.einsum("rjk,rk->rj", ac, d) / dd[:, None]
    np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)
    ac -= d[:, None, :] * t[:, :, None]
    return np.asarray(np.sqrt(np.einsum("rjk,rjk->rj", ac, ac)) - radius)


def clip(normal: F64, offset: F64, a: F64, b: F64) -> tuple[NDArray[np.bool_], F64, F64]:
    """Where each of P segments a -> b (P, 3) first enters its convex hull (P, F outward face
    planes: unit normals (P, F, 3) and offsets (P, F), inside where n . q <= d): (hit,
    fraction along a -> b, a lower bound on the segment's distance from the hull)."""
    sa = np.einsum("pfk,pk->pf", normal, a) - offset
    sb = np.einsum("pfk,pk->pf", normal, b) - offset
    out_a, out_b = sa > 0.0, sb > 0.0
    t = np.divide(sa, sa - sb, out=np.zeros_like(sa), where=out_a != out_b)
    t_in = np.where(out_a, t, 0.0).max(axis=1)
    leave = np.where(out_b, t, 1.0).min(axis=1)
    hit = ~(out_a & out_b).any(axis=1) & (t_in <= leave)
    return hit, t_in, np.minimum(sa, sb).max(axis=1)


def cast_subject(
    pose_at: Callable[[float], tuple[F64, F64]],
    near: NDArray[np.bool_],
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
    rest_j: F64,
    normals: F64,
    offsets: F64,
    margin: float,
    first: NDArray[np.int64],
    hit_f: F64,
    hit_seg: NDArray[np.int64],
    hit_rest: F64,
) -> int:
    """RangeWorld._cast_subject's loop in numpy (before physics._kernel.cast_subject), with
    the kernel's interface: `pose_at(t)` poses the subject and gives its joint frames; fills
    in `first`, `hit_f`, `hit_seg`, `hit_rest` for the flights this subject is hit by first.
    Returns how many poses it asked for."""
    m_chords = len(starts)
    rows = np.nonzero(near.any(axis=1))[0]
    if not len(rows):
        return 0
    r = int(rows[0])
    poses = 0
    ahead_near = np.flip(np.logical_or.accumulate(np.flip(near, axis=0), axis=0), axis=0)
    while r < m_chords:
        flights = np.nonzero(ahead_near[r] & (r < first))[0]
        if not len(flights):
            return poses
        position, rotation = pose_at(float(mid_t[r]))
        poses += 1
        world_c = position + np.einsum("jab,jb->ja", rotation, centre)
        stop = min(r + 1 + window, m_chords)
        w = stop - r
        f = len(flights)
        a = starts[r:stop, flights].reshape(-1, 3)  # (W * F, 3), sub-chord-major
        b = stops[r:stop, flights].reshape(-1, 3)
        gap = sphere_gaps(
            a,
            chord_d[r:stop, flights].reshape(-1, 3),
            chord_dd[r:stop, flights].reshape(-1),
            world_c,
            radius,
        )
        pair, seg = np.nonzero(gap <= 0.0)
        if len(pair):
            rot, pos = rotation[seg], position[seg]
            rest = rest_j[seg]
            qa = rest + np.einsum("nji,nj->ni", rot, a[pair] - pos)
            qb = rest + np.einsum("nji,nj->ni", rot, b[pair] - pos)
            hit, t_in, bound = clip(normals[seg], offsets[seg], qa, qb)
            gap[pair, seg] = bound - margin
            hit &= pair < f
            if hit.any():
                fl, sg, t_in = pair[hit], seg[hit], t_in[hit]
                q = qa[hit] + (qb[hit] - qa[hit]) * t_in[:, None]
                order = np.lexsort((t_in, fl))  # per flight, its nearest entry first
                fl, t_in, q, sg = fl[order], t_in[order], q[order], sg[order]
                once = np.ones(len(fl), dtype=bool)
                once[1:] = fl[1:] != fl[:-1]
                who = flights[fl[once]]
                first[who], hit_f[who] = r, t_in[once]
                hit_rest[who], hit_seg[who] = q[once], sg[once]
        gaps = gap.min(axis=1).reshape(w, f)
        still = r < first[flights]
        if not still.any():
            return poses
        live_f = flights[still]
        gap_r = np.maximum(gaps[0, still], 0.0)
        motion_m = max_speed_mps * (mid_t[r + 1 :] - mid_t[r])
        ahead = before[r + 2 :, live_f] - before[r, live_f][None, :] + motion_m[:, None]
        can = (ahead >= gap_r[None, :]).any(axis=1)
        if not can.any():
            return poses
        nxt = r + 1 + int(np.argmax(can))
        if nxt < stop:
            clear = (gaps[nxt - r :, still] > motion_m[nxt - r - 1 : w - 1, None]).all(axis=1)
            nxt += int(np.argmin(clear)) if not clear.all() else len(clear)
        if nxt >= stop and nxt < m_chords:
            later, fl = np.nonzero(near[nxt:, live_f])
            if not len(later):
                return poses
            rows, cols = later + nxt, live_f[fl]
            reach = sphere_gaps(
                starts[rows, cols], chord_d[rows, cols], chord_dd[rows, cols], world_c, radius
            )
            bound = max_speed_mps * (mid_t[rows] - mid_t[r])
            close = reach.min(axis=1) <= bound
            if not close.any():
                return poses
            nxt = int(rows[close].min())
        r = nxt
    return poses


def sub_chords(
    fine: F64,
    reach_m: float,
    t_fine: F64,
    end_s: F64,
    boxes: F64,
    grow: F64,
) -> tuple[F64, F64, F64, F64, F64, F64, NDArray[np.bool_]]:
    """cast_moving's sub-chords in numpy (before physics._kernel.sub_chords): chord_d, stops,
    chord, chord_dd, before, cut, in_box."""
    starts = fine[:-1]
    m_chords, n = starts.shape[:2]
    chord_d = fine[1:] - starts
    chord = np.sqrt(np.einsum("mnk,mnk->mn", chord_d, chord_d))
    before = np.zeros((m_chords + 1, n))
    np.cumsum(chord, axis=0, out=before[1:])
    cut = np.minimum(np.maximum((reach_m - before[:-1]) / np.maximum(chord, 1e-12), 0.0), 1.0)
    chord_d *= cut[..., None]
    stops = starts + chord_d
    chord_dd = np.maximum(np.einsum("mnk,mnk->mn", chord_d, chord_d), 1e-30)
    live = (before[:-1] < reach_m) & (t_fine[:-1, None] < end_s[None, :])
    lo, hi = np.minimum(starts, stops), np.maximum(starts, stops)
    g = grow[:, None, None]
    in_box = (
        (lo[None] <= boxes[:, None, None, 1] + g).all(-1)
        & (hi[None] >= boxes[:, None, None, 0] - g).all(-1)
        & live[None]
    )
    return chord_d, stops, chord, chord_dd, before, cut, in_box


def chords(points: F64, reach_m: float) -> tuple[F64, F64, F64, F64, NDArray[np.bool_]]:
    """cast_paths's chords in numpy (before physics._kernel.chords): chord, before, cut, ends,
    live."""
    starts, ends = points[:-1], points[1:]
    k_chords, n = starts.shape[:2]
    step = ends - starts
    chord = np.sqrt(np.einsum("knc,knc->kn", step, step))
    before = np.zeros((k_chords + 1, n))
    np.cumsum(chord, axis=0, out=before[1:])
    if np.isfinite(reach_m):
        live = before[:-1] < reach_m
        cut = np.minimum(np.maximum((reach_m - before[:-1]) / np.maximum(chord, 1e-12), 0.0), 1.0)
        ends = starts + step * cut[..., None]
    else:
        live = np.ones((k_chords, n), dtype=bool)
        cut = np.ones((k_chords, n))
    return chord, before, cut, ends, live


def candidates(
    starts: F64, ends: F64, live: NDArray[np.bool_], boxes: F64, limit: NDArray[np.int64] | None
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """cast_paths's chords to cast in numpy (before physics._kernel.candidates): ks, ns."""
    lo, hi = np.minimum(starts, ends), np.maximum(starts, ends)
    near = (
        (lo[..., None, :] <= boxes[:, 1]).all(-1) & (hi[..., None, :] >= boxes[:, 0]).all(-1)
    ).any(-1)
    near |= lo[..., 2] <= 1e-6  # the floor plane
    cast = live
    if limit is not None:
        cast = live & (np.arange(len(live))[:, None] <= limit[None, :])
    ns, ks = np.nonzero((cast & near).T)
    return ks, ns


def first_hits(
    starts: F64,
    ends: F64,
    live: NDArray[np.bool_],
    cut: F64,
    ks: NDArray[np.int64],
    ns: NDArray[np.int64],
    uid: NDArray[np.int64],
    frac: F64,
) -> tuple[NDArray[np.int64], NDArray[np.int64], F64, F64, NDArray[np.int64]]:
    """cast_paths's flight ends in numpy (before physics._kernel.first_hits): picked (the
    cast chord of each flight's first hit, -1 none), end_k, end_f, point, target."""
    n = live.shape[1]
    a, b = starts[ks, ns], ends[ks, ns]
    hit_at = a + (b - a) * frac[:, None]
    hits = np.nonzero(uid >= 0)[0]
    hit_flights = ns[hits]
    first = np.ones(len(hits), dtype=bool)
    first[1:] = hit_flights[1:] != hit_flights[:-1]
    picked, flights = hits[first], hit_flights[first]
    end_k = np.maximum(live.sum(axis=0) - 1, 0)
    cols = np.arange(n)
    end_f = cut[end_k, cols]
    point = ends[end_k, cols]
    target = np.full(n, -1, dtype=np.int64)
    target[flights] = uid[picked]
    point[flights] = hit_at[picked]
    end_k[flights] = ks[picked]
    end_f[flights] = frac[picked] * cut[ks[picked], flights]
    chosen = np.full(n, -1, dtype=np.int64)
    chosen[flights] = picked
    return chosen, end_k, end_f, point, target


def path_ends(
    times_s: F64, speeds: F64, before: F64, chord: F64, end_k: NDArray[np.int64], end_f: F64
) -> tuple[F64, F64, F64]:
    """Time, speed and path at each flight's end in numpy (physics._kernel.path_ends)."""
    cols = np.arange(len(end_k))
    time = times_s[end_k] + end_f * (times_s[end_k + 1] - times_s[end_k])
    speed = speeds[end_k, cols] + (speeds[end_k + 1, cols] - speeds[end_k, cols]) * end_f
    path = before[end_k, cols] + end_f * chord[end_k, cols]
    return time, speed, path


def gait(
    t: float, phase: float, stride_s: float, hip: float, knee: float, arm: float
) -> dict[str, F64]:
    """animation._gait with a numpy rot_y a joint (before physics._kernel.rot_y_many)."""
    a = 2 * math.pi * (t / stride_s + phase)
    s = math.sin(a)
    swing = math.sin(a + 0.6)
    return {
        "hip_l": rot_y(-hip * s),
        "hip_r": rot_y(hip * s),
        "knee_l": rot_y(knee * max(0.0, swing)),
        "knee_r": rot_y(knee * max(0.0, -swing)),
        "ankle_l": rot_y(-0.2 * knee * max(0.0, swing)),
        "ankle_r": rot_y(-0.2 * knee * max(0.0, -swing)),
        "shoulder_l": rot_y(arm * s),
        "shoulder_r": rot_y(-arm * s),
    }


class _Draws:
    """A generator that hands `angular_scatter` the normal draws given (the kernel is handed
    what the run's generator drew)."""

    def __init__(self, normals: F64) -> None:
        self.normals = normals

    def normal(self, loc: float, scale: float, size: tuple[int, int]) -> F64:
        assert loc == 0.0 and size == self.normals.shape
        return self.normals


def deploy(
    cartridge: Cartridge,
    position: tuple[float, float, float],
    orientation: tuple[float, float, float, float],
    normals: F64 | None,
    scene: Scene,
    skeletons: list[Skeleton],
    static_boxes: F64,
    floor_uid: int,
    hits: tuple[NDArray[np.int64], F64] | None,
) -> tuple[F64, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """RangeWorld.cast_deployment's kernel (physics._kernel.deploy) in numpy: the launch of
    `taser.probe_launch`, `SampledFlights.flights`, cast_paths's chords, every live chord
    clipped against every segment of every subject (`clip`, no broad phase), the floor plane,
    the chords left for PyBullet (`static_boxes`, up to each probe's first hit) and the merge
    of what PyBullet found there (`hits`). Returns out_f (P, 9), out_i (P, 3) and the chords
    for PyBullet (chord, probe)."""
    rotation = quat_to_matrix(orientation)
    draws = _Draws(np.zeros((cartridge.probes_per_pull, 2)) if normals is None else normals)
    starts, directions = probe_launch(
        cartridge,
        np.array([position], dtype=np.float64),
        rotation[None],
        draws,  # type: ignore[arg-type]
        dispersion=normals is not None,
    )
    plan = flight_plan(cartridge)
    points, speeds = plan.flights(starts, directions)
    chord, before, cut, ends, live = chords(points, cartridge.reach_m)
    uid, pos, rot, _, _, _, rest, normal, offset, _, _ = scene
    k_chords, probes = live.shape
    out_f = np.full((probes, 9), np.nan)
    out_i = np.full((probes, 3), -1, dtype=np.int64)
    cand_k: list[int] = []
    cand_n: list[int] = []
    for i in range(probes):
        hit: tuple[int, float, int, int, F64] | None = None  # chord, fraction, subject, segment, q
        hit_uid = -1  # the floor's or a static body's uid when the subject is -1
        for k in range(k_chords):
            if not live[k, i]:
                continue
            a, b = points[k, i], ends[k, i]
            for s in range(len(uid)):
                qa = rest[s] + np.einsum("jba,jb->ja", rot[s], a - pos[s])
                qb = rest[s] + np.einsum("jba,jb->ja", rot[s], b - pos[s])
                entered, t_in, _ = clip(normal[s], offset[s], qa, qb)
                for j in np.nonzero(entered)[0].tolist():
                    if hit is None or t_in[j] < hit[1]:
                        hit = (k, float(t_in[j]), s, j, qa[j] + (qb[j] - qa[j]) * t_in[j])
            if a[2] * b[2] < 0.0:
                t = float(a[2] / (a[2] - b[2]))
                if hit is None or t <= hit[1]:
                    hit = (k, t, -1, -1, np.full(3, np.nan))
                    hit_uid = floor_uid
            if hit is not None:
                break
        last = hit[0] if hit is not None else k_chords - 1
        first_c = len(cand_k)
        for k in range(last + 1):
            lo = np.minimum(points[k, i], ends[k, i])
            hi = np.maximum(points[k, i], ends[k, i])
            near = ((lo <= static_boxes[:, 1]).all(-1) & (hi >= static_boxes[:, 0]).all(-1)).any()
            if live[k, i] and near:
                cand_k.append(k)
                cand_n.append(i)
        if hits is not None:
            for c in range(first_c, len(cand_k)):
                if hits[0][c] < 0:
                    continue
                k, frac = cand_k[c], float(hits[1][c])
                if hit is None or k < hit[0] or (k == hit[0] and frac <= hit[1]):
                    hit = (k, frac, -1, -1, np.full(3, np.nan))
                    hit_uid = int(hits[0][c])
                break
        if hit is None:
            k = max(int(live[:, i].sum()) - 1, 0)
            end_f = float(cut[k, i])
            out_f[i, :3] = ends[k, i]
        else:
            k, t, s, j, q = hit
            end_f = t * float(cut[k, i])
            out_f[i, :3] = points[k, i] + (ends[k, i] - points[k, i]) * t
            out_f[i, 6:] = q
            if s >= 0:
                code = region_codes(skeletons[s], np.array([j]), q[None])[0]
                out_i[i] = (uid[s], code, j)
            else:
                out_i[i, 0] = hit_uid
        times = plan.times_s
        out_f[i, 3] = times[k] + end_f * (times[k + 1] - times[k])
        out_f[i, 4] = speeds[k, i] + (speeds[k + 1, i] - speeds[k, i]) * end_f
        out_f[i, 5] = before[k, i] + end_f * chord[k, i]
    return out_f, out_i, np.array(cand_k, dtype=np.int64), np.array(cand_n, dtype=np.int64)
