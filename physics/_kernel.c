/* physics._kernel: the compiled inner loops of posing and probe flight (issues #14, #16).
 *
 * Plain C on the CPython API and the buffer protocol (no numpy headers, no runtime dependency):
 * the caller (physics.human, physics.world) allocates every output array with numpy and hands
 * it in; this module reads and writes float64 / int64 buffers and does the arithmetic that the
 * numpy forms it replaced did as ~150 small array calls per pose. physics/_kernel.pyi documents
 * each function's shapes and units; tests/test_kernel.py compares each with the numpy form it
 * replaced (tests/kernel_reference.py) on random poses and paths.
 *
 * Arithmetic order follows the numpy forms: a 3x3 product is the fused multiply-add chain
 * fma(a2, b2, fma(a1, b1, a0 * b0)) that numpy's matmul computes on this machine's CPUs, a
 * dot product of an einsum the plain sum ((a0 b0 + a1 b1) + a2 b2); the build turns off the
 * compiler's own contraction (-ffp-contract=off) so that nothing else is fused.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#define MAX_JOINTS 64

/* ---- buffers ----------------------------------------------------------------------------- */

static int
format_is(const Py_buffer *view, const char *codes)
{
    const char *f = view->format;
    if (f == NULL)
        return 0;
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    return f[0] != '\0' && f[1] == '\0' && strchr(codes, f[0]) != NULL;
}

/* A C-contiguous buffer of `count` 8-byte values of a struct code among `codes` (count < 0: any
 * length), named `kind` in errors; 0, or -1 with an error set. */
static int
get_8(PyObject *obj, Py_buffer *view, Py_ssize_t count, int writable, const char *what,
      const char *codes, const char *kind)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Format(PyExc_ValueError, "%s: a C-contiguous%s %s array is needed", what,
                     writable ? " writable" : "", kind);
        return -1;
    }
    if (view->itemsize != 8 || !format_is(view, codes) ||
        (count >= 0 && view->len != count * 8)) {
        PyErr_Format(PyExc_ValueError, "%s: %zd %s values expected, got %zd bytes", what, count,
                     kind, view->len);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int
get_f64(PyObject *obj, Py_buffer *view, Py_ssize_t count, int writable, const char *what)
{
    return get_8(obj, view, count, writable, what, "d", "float64");
}

static int
get_i64(PyObject *obj, Py_buffer *view, Py_ssize_t count, int writable, const char *what)
{
    return get_8(obj, view, count, writable, what, "lq", "int64");
}

/* A 3x3 float64 matrix, any strides (a transposed view is fine), copied row-major into m. */
static int
read_mat3(PyObject *obj, double *m, const char *what)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_RECORDS_RO) < 0) {
        PyErr_Format(PyExc_ValueError, "%s: a 3x3 float64 matrix is needed", what);
        return -1;
    }
    if (view.ndim != 2 || view.shape[0] != 3 || view.shape[1] != 3 || view.itemsize != 8 ||
        !format_is(&view, "d")) {
        PyErr_Format(PyExc_ValueError, "%s: a 3x3 float64 matrix is needed", what);
        PyBuffer_Release(&view);
        return -1;
    }
    const char *base = (const char *)view.buf;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            memcpy(&m[i * 3 + j], base + i * view.strides[0] + j * view.strides[1], 8);
    PyBuffer_Release(&view);
    return 0;
}

/* Three floats from a sequence (a tuple (x, y, z) or an array). */
static int
read_vec3(PyObject *obj, double *v, const char *what)
{
    PyObject *seq = PySequence_Fast(obj, what);
    if (seq == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(seq) != 3) {
        PyErr_Format(PyExc_ValueError, "%s: three numbers are needed", what);
        Py_DECREF(seq);
        return -1;
    }
    for (int k = 0; k < 3; k++) {
        v[k] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, k));
        if (v[k] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

/* ---- 3-vectors and 3x3 matrices, in numpy's order ----------------------------------------- */

/* out = a @ b (row-major 3x3): numpy matmul's fused chain over k = 0, 1, 2. */
static inline void
mat3_mul(const double *a, const double *b, double *out)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            out[i * 3 + j] =
                fma(a[i * 3 + 2], b[6 + j], fma(a[i * 3 + 1], b[3 + j], a[i * 3] * b[j]));
}

/* out = a @ v (a 3x3, v a column). */
static inline void
mat3_vec(const double *a, const double *v, double *out)
{
    for (int i = 0; i < 3; i++)
        out[i] = fma(a[i * 3 + 2], v[2], fma(a[i * 3 + 1], v[1], a[i * 3] * v[0]));
}

/* einsum's dot of three: ((a0 b0 + a1 b1) + a2 b2), no fusing. */
static inline double
dot3(const double *a, const double *b)
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* ---- a flight's chords (RangeWorld.cast_paths's numpy forms) ------------------------------ */

/* How much of a chord `len` long the reach leaves after `before` metres of flight:
 * min(max((reach - before) / max(len, 1e-12), 0), 1). */
static inline double
reach_cut(double reach, double before, double len)
{
    double c = (reach - before) / (len > 1e-12 ? len : 1e-12);
    c = c > 0.0 ? c : 0.0;
    return c < 1.0 ? c : 1.0;
}

/* The chord a -> b after `before` metres of flight, cut at the reach (`finite`: the reach is
 * finite, or the end is to be a + (b - a) * cut at any reach, as cast_moving's sub-chords
 * are; else an infinite reach ends it at b itself): its length, the fraction kept, whether
 * the reach is left at its start, its end and, where `cut_d` is not NULL, its displacement
 * (b - a) * cut. */
static inline void
chord_end(const double *a, const double *b, double reach, int finite, double before,
          double *len, double *cut, char *live, double *end, double *cut_d)
{
    double step[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    *len = sqrt(dot3(step, step));
    if (finite) {
        double c = reach_cut(reach, before, *len);
        *cut = c;
        *live = before < reach;
        for (int d = 0; d < 3; d++) {
            double moved = step[d] * c;
            if (cut_d != NULL)
                cut_d[d] = moved;
            end[d] = a[d] + moved;
        }
    } else {
        *cut = 1.0;
        *live = 1;
        for (int d = 0; d < 3; d++) {
            if (cut_d != NULL)
                cut_d[d] = step[d];
            end[d] = b[d];
        }
    }
}

/* The box round the chord a -> b: its low corner `lo`, its high one `hi`. */
static inline void
chord_box(const double *a, const double *b, double *lo, double *hi)
{
    for (int k = 0; k < 3; k++) {
        lo[k] = a[k] < b[k] ? a[k] : b[k];
        hi[k] = a[k] > b[k] ? a[k] : b[k];
    }
}

/* Where a flight that hit nothing ends: the last chord it lived on (`live` of its K chords,
 * `stride` apart), chord 0 when it lived on none. */
static inline Py_ssize_t
last_live(const char *live, Py_ssize_t k_count, Py_ssize_t stride)
{
    Py_ssize_t lived = 0;
    for (Py_ssize_t k = 0; k < k_count; k++)
        lived += live[k * stride] != 0;
    return lived > 1 ? lived - 1 : 0;
}

/* A flight's time, speed and path `f` of the way along chord `k` (the speeds s0, s1 at its
 * ends, `before` metres flown before it, `chord` its length): out[0..2]. */
static inline void
end_state(const double *times, Py_ssize_t k, double f, double s0, double s1, double before,
          double chord, double *out)
{
    out[0] = times[k] + f * (times[k + 1] - times[k]);
    out[1] = s0 + (s1 - s0) * f;
    out[2] = before + f * chord;
}

/* Take a buffer into slot `slot` of the calling kernel's `v`/`taken` arrays, or jump to its
   `release` label (which releases every slot taken) when `call` fails with an exception set. */
#define TAKE(slot, call)                                                                       \
    do {                                                                                       \
        if ((call) < 0)                                                                        \
            goto release;                                                                      \
        taken[slot] = 1;                                                                       \
    } while (0)

/* ---- forward kinematics ------------------------------------------------------------------- */

static const char fk_doc[] =
    "forward_kinematics(rests, joints, roots, offsets, placements, index, parents, pos, rot)\n"
    "\n"
    "Joint frames of S subjects, each in its own skeleton and pose. See _kernel.pyi.";

static PyObject *
k_forward_kinematics(PyObject *self, PyObject *args)
{
    PyObject *rests, *joints, *roots, *offsets, *placements, *index, *parents, *pos_o, *rot_o;
    if (!PyArg_ParseTuple(args, "OOOOOO!OOO", &rests, &joints, &roots, &offsets, &placements,
                          &PyDict_Type, &index, &parents, &pos_o, &rot_o))
        return NULL;
    Py_ssize_t s_count = PySequence_Size(rests);
    Py_ssize_t j_count = PySequence_Size(parents);
    if (s_count < 0 || j_count < 0)
        return NULL;
    if (j_count < 1 || j_count > MAX_JOINTS) {
        PyErr_SetString(PyExc_ValueError, "parents: 1 to 64 joints");
        return NULL;
    }
    if (PySequence_Size(joints) != s_count || PySequence_Size(roots) != s_count ||
        PySequence_Size(offsets) != s_count ||
        (placements != Py_None && PySequence_Size(placements) != s_count)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "one rest, pose and placement per subject");
        return NULL;
    }
    int parent[MAX_JOINTS];
    for (Py_ssize_t j = 0; j < j_count; j++) {
        PyObject *item = PySequence_GetItem(parents, j);
        if (item == NULL)
            return NULL;
        long v = PyLong_AsLong(item);
        Py_DECREF(item);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if ((j == 0 && v != -1) || (j > 0 && (v < 0 || v >= j))) {
            PyErr_SetString(PyExc_ValueError, "parents: the root first, each parent before its child");
            return NULL;
        }
        parent[j] = (int)v;
    }
    Py_buffer pos_v, rot_v;
    if (get_f64(pos_o, &pos_v, s_count * j_count * 3, 1, "pos") < 0)
        return NULL;
    if (get_f64(rot_o, &rot_v, s_count * j_count * 9, 1, "rot") < 0) {
        PyBuffer_Release(&pos_v);
        return NULL;
    }
    double local[MAX_JOINTS][9];
    double root[9], off[3], yaw[9], feet[3];
    int ok = 0;
    for (Py_ssize_t s = 0; s < s_count; s++) {
        double *pos = (double *)pos_v.buf + s * j_count * 3;
        double *rot = (double *)rot_v.buf + s * j_count * 9;
        PyObject *rest_o = PySequence_GetItem(rests, s);
        PyObject *dict = PySequence_GetItem(joints, s);
        PyObject *root_o = PySequence_GetItem(roots, s);
        PyObject *off_o = PySequence_GetItem(offsets, s);
        PyObject *place_o = placements == Py_None ? NULL : PySequence_GetItem(placements, s);
        Py_buffer rest_v;
        int fail = rest_o == NULL || dict == NULL || root_o == NULL || off_o == NULL ||
                   (placements != Py_None && place_o == NULL);
        int have_rest = 0;
        if (!fail && !PyDict_Check(dict)) {
            PyErr_SetString(PyExc_TypeError, "joints: a dict of joint name -> 3x3 per subject");
            fail = 1;
        }
        if (!fail)
            fail = read_mat3(root_o, root, "root rotation") < 0 ||
                   read_vec3(off_o, off, "root offset") < 0;
        if (!fail && place_o != NULL) {
            PyObject *yaw_o, *feet_o;
            if (!PyTuple_Check(place_o) || PyTuple_GET_SIZE(place_o) != 2) {
                PyErr_SetString(PyExc_TypeError, "placements: (yaw matrix, feet) per subject");
                fail = 1;
            } else {
                yaw_o = PyTuple_GET_ITEM(place_o, 0);
                feet_o = PyTuple_GET_ITEM(place_o, 1);
                fail = read_mat3(yaw_o, yaw, "yaw") < 0 || read_vec3(feet_o, feet, "feet") < 0;
            }
        }
        if (!fail) {
            fail = get_f64(rest_o, &rest_v, j_count * 3, 0, "rest") < 0;
            have_rest = !fail;
        }
        if (!fail) {
            for (Py_ssize_t j = 0; j < j_count; j++) {
                memset(local[j], 0, sizeof local[j]);
                local[j][0] = local[j][4] = local[j][8] = 1.0;
            }
            PyObject *key, *value;
            Py_ssize_t at = 0;
            while (!fail && PyDict_Next(dict, &at, &key, &value)) {
                PyObject *slot = PyDict_GetItemWithError(index, key);
                if (slot == NULL) {
                    if (!PyErr_Occurred())
                        PyErr_Format(PyExc_KeyError, "%R is not a joint", key);
                    fail = 1;
                    break;
                }
                long j = PyLong_AsLong(slot);
                if (j < 0 || j >= j_count) {
                    if (!PyErr_Occurred())
                        PyErr_SetString(PyExc_ValueError, "index: a joint out of range");
                    fail = 1;
                    break;
                }
                fail = read_mat3(value, local[j], "joint rotation") < 0;
            }
        }
        if (!fail) {
            const double *rest = (const double *)rest_v.buf;
            mat3_mul(root, local[0], rot);
            for (int k = 0; k < 3; k++)
                pos[k] = rest[k] + off[k];
            for (Py_ssize_t j = 1; j < j_count; j++) {
                int p = parent[j];
                double bone[3], turned[3];
                mat3_mul(rot + p * 9, local[j], rot + j * 9);
                for (int k = 0; k < 3; k++)
                    bone[k] = rest[j * 3 + k] - rest[p * 3 + k];
                mat3_vec(rot + p * 9, bone, turned);
                for (int k = 0; k < 3; k++)
                    pos[j * 3 + k] = pos[p * 3 + k] + turned[k];
            }
            if (place_o != NULL) {
                /* Into the world: feet + pos @ yaw.T, yaw @ rot. */
                for (Py_ssize_t j = 0; j < j_count; j++) {
                    double turned[3], m[9];
                    mat3_vec(yaw, pos + j * 3, turned);
                    for (int k = 0; k < 3; k++)
                        pos[j * 3 + k] = feet[k] + turned[k];
                    mat3_mul(yaw, rot + j * 9, m);
                    memcpy(rot + j * 9, m, sizeof m);
                }
            }
        }
        if (have_rest)
            PyBuffer_Release(&rest_v);
        Py_XDECREF(rest_o);
        Py_XDECREF(dict);
        Py_XDECREF(root_o);
        Py_XDECREF(off_o);
        Py_XDECREF(place_o);
        if (fail)
            goto done;
    }
    ok = 1;
done:
    PyBuffer_Release(&pos_v);
    PyBuffer_Release(&rot_v);
    if (!ok)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- moving casts ------------------------------------------------------------------------- */

/* Distance from segment a -> a + d (dd = |d|^2) to a sphere (c, r), negative inside. */
static inline double
sphere_gap(const double *a, const double *d, double dd, const double *c, double r)
{
    double ac[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    double t = dot3(ac, d) / dd;
    t = t > 0.0 ? t : 0.0;
    t = t < 1.0 ? t : 1.0;
    for (int k = 0; k < 3; k++)
        ac[k] = ac[k] - d[k] * t;
    return sqrt(dot3(ac, ac)) - r;
}

/* A world point into joint j's rest frame: rest_j + R_j^T (x - p_j) (einsum's plain sums). */
static inline void
to_rest(const double *rot, const double *pos, const double *rest, const double *x, double *q)
{
    double v[3] = {x[0] - pos[0], x[1] - pos[1], x[2] - pos[2]};
    for (int i = 0; i < 3; i++)
        q[i] = rest[i] + (rot[i] * v[0] + rot[3 + i] * v[1] + rot[6 + i] * v[2]);
}

/* Cyrus-Beck of qa -> qb against F planes (inside where n . q <= d): hit, entry fraction, and
 * a lower bound on the segment's distance from the hull (the largest min(sa, sb)). */
static inline int
clip_hull(const double *normal, const double *offset, Py_ssize_t f_count, const double *qa,
          const double *qb, double *t_in_out, double *bound_out)
{
    double t_in = 0.0, leave = 1.0, bound = -INFINITY;
    int both_out = 0;
    for (Py_ssize_t f = 0; f < f_count; f++) {
        const double *n = normal + f * 3;
        double sa = dot3(n, qa) - offset[f];
        double sb = dot3(n, qb) - offset[f];
        int out_a = sa > 0.0, out_b = sb > 0.0;
        double lower = sa < sb ? sa : sb;
        if (lower > bound || f == 0)
            bound = lower;
        if (out_a && out_b)
            both_out = 1;
        else if (out_a != out_b) {
            double t = sa / (sa - sb);
            if (out_a) {
                if (t > t_in)
                    t_in = t;
            } else if (t < leave)
                leave = t;
        }
    }
    *t_in_out = t_in;
    *bound_out = bound;
    return !both_out && t_in <= leave;
}

/* The chord a -> b against one posed segment's hull (its frame rot (9), pos (3), its rest
 * joint and its fn face planes): the chord's ends carried into the segment's rest frame and
 * clipped there (clip_hull: whether it enters, where, and its bound); q: the point at t_in
 * in the rest frame (where it enters, when it does). */
static inline int
enter_segment(const double *rot, const double *pos, const double *rest, const double *normals,
              const double *offsets, Py_ssize_t fn, const double *a, const double *b,
              double *t_in, double *bound, double *q)
{
    double qa[3], qb[3];
    to_rest(rot, pos, rest, a, qa);
    to_rest(rot, pos, rest, b, qb);
    int hit = clip_hull(normals, offsets, fn, qa, qb, t_in, bound);
    for (int k = 0; k < 3; k++)
        q[k] = qa[k] + (qb[k] - qa[k]) * *t_in;
    return hit;
}

/* One pose's work of cast_subject: sub-chords r <= m < stop of flights fl[0..f) against the
 * subject posed as (pos, rot): gaps[(m - r) * f + i], and each flight's first hull entry on
 * sub-chord r (hit_t < 0: none). world_c receives the spheres' centres. */
typedef struct {
    const double *centre, *radius, *rest, *normals, *offsets;
    const double *starts, *stops, *chord_d, *chord_dd;
    Py_ssize_t j_count, f_count, n;
    double margin;
} Subject;

static void
step_core(const Subject *sj, const double *pos, const double *rot, Py_ssize_t r, Py_ssize_t stop,
          const long long *fl, Py_ssize_t f, double *gaps, double *hit_t, long long *hit_seg,
          double *hit_q, double *world_c)
{
    Py_ssize_t n = sj->n;
    for (Py_ssize_t j = 0; j < sj->j_count; j++) {
        double c[3];
        mat3_vec(rot + j * 9, sj->centre + j * 3, c);
        for (int k = 0; k < 3; k++)
            world_c[j * 3 + k] = pos[j * 3 + k] + c[k];
    }
    for (Py_ssize_t w = 0; w < stop - r; w++) {
        for (Py_ssize_t i = 0; i < f; i++) {
            Py_ssize_t at = (r + w) * n + fl[i];
            const double *a = sj->starts + at * 3, *b = sj->stops + at * 3;
            const double *d = sj->chord_d + at * 3;
            double dd = sj->chord_dd[at];
            double best = INFINITY, first_t = -1.0, first_q[3] = {0.0, 0.0, 0.0};
            long long first_j = -1;
            for (Py_ssize_t j = 0; j < sj->j_count; j++) {
                double gap = sphere_gap(a, d, dd, world_c + j * 3, sj->radius[j]);
                if (gap <= 0.0) {
                    double t_in, bound, q[3];
                    int hit = enter_segment(rot + j * 9, pos + j * 3, sj->rest + j * 3,
                                            sj->normals + j * sj->f_count * 3,
                                            sj->offsets + j * sj->f_count, sj->f_count, a, b,
                                            &t_in, &bound, q);
                    gap = bound - sj->margin;
                    if (hit && w == 0 && (first_j < 0 || t_in < first_t)) {
                        first_t = t_in;
                        first_j = j;
                        memcpy(first_q, q, sizeof q);
                    }
                }
                if (gap < best || j == 0)
                    best = gap;
            }
            gaps[w * f + i] = best;
            if (w == 0) {
                hit_t[i] = first_t;
                hit_seg[i] = first_j;
                for (int k = 0; k < 3; k++)
                    hit_q[i * 3 + k] = first_q[k];
            }
        }
    }
}

static const char cast_subject_doc[] =
    "cast_subject(pose_at, near, starts, stops, chord_d, chord_dd, before, mid_t,\n"
    "             max_speed_mps, window, centre, radius, rest, normals, offsets, margin,\n"
    "             first, hit_f, hit_seg, hit_q) -> int\n"
    "\n"
    "RangeWorld.cast_moving's subject part for one subject. See _kernel.pyi.";

static PyObject *
k_cast_subject(PyObject *self, PyObject *args)
{
    PyObject *pose_at, *near_o, *starts_o, *stops_o, *chord_d_o, *chord_dd_o, *before_o;
    PyObject *mid_t_o, *centre_o, *radius_o, *rest_o, *normals_o, *offsets_o;
    PyObject *first_o, *hit_f_o, *hit_seg_o, *hit_q_o;
    double max_speed, margin;
    Py_ssize_t window;
    if (!PyArg_ParseTuple(args, "OOOOOOOOdnOOOOOdOOOO", &pose_at, &near_o, &starts_o, &stops_o,
                          &chord_d_o, &chord_dd_o, &before_o, &mid_t_o, &max_speed, &window,
                          &centre_o, &radius_o, &rest_o, &normals_o, &offsets_o, &margin,
                          &first_o, &hit_f_o, &hit_seg_o, &hit_q_o))
        return NULL;
    enum { NEAR, STA, STO, CD, CDD, BEF, MID, CEN, RAD, REST, NRM, OFF, FIRST, HF, HS, HQ, NB };
    Py_buffer v[NB];
    int taken[NB] = {0};
    PyObject *result = NULL;
    Py_ssize_t m_count, n, j_count, f_count;
    char *ahead = NULL, *near = NULL;
    long long *fl = NULL, *live = NULL;
    double *gaps = NULL, *hit_t = NULL, *hq = NULL, *world_c = NULL, *gap_r = NULL;
    long long *hseg = NULL;
    long poses = 0;
    TAKE(MID, get_f64(mid_t_o, &v[MID], -1, 0, "mid_t"));
    m_count = v[MID].len / 8;
    TAKE(CDD, get_f64(chord_dd_o, &v[CDD], -1, 0, "chord_dd"));
    if (m_count <= 0 || (v[CDD].len / 8) % m_count != 0) {
        PyErr_SetString(PyExc_ValueError, "chord_dd: (M, N) values expected");
        goto release;
    }
    n = v[CDD].len / 8 / m_count;
    if (PyObject_GetBuffer(near_o, &v[NEAR], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto release;
    taken[NEAR] = 1;
    if (v[NEAR].itemsize != 1 || !format_is(&v[NEAR], "?") || v[NEAR].len != m_count * n) {
        PyErr_SetString(PyExc_ValueError, "in_box: (M, N) bools expected");
        goto release;
    }
    TAKE(STA, get_f64(starts_o, &v[STA], m_count * n * 3, 0, "starts"));
    TAKE(STO, get_f64(stops_o, &v[STO], m_count * n * 3, 0, "stops"));
    TAKE(CD, get_f64(chord_d_o, &v[CD], m_count * n * 3, 0, "chord_d"));
    TAKE(BEF, get_f64(before_o, &v[BEF], (m_count + 1) * n, 0, "before"));
    TAKE(RAD, get_f64(radius_o, &v[RAD], -1, 0, "radius"));
    j_count = v[RAD].len / 8;
    TAKE(CEN, get_f64(centre_o, &v[CEN], j_count * 3, 0, "centre"));
    TAKE(REST, get_f64(rest_o, &v[REST], j_count * 3, 0, "rest"));
    TAKE(OFF, get_f64(offsets_o, &v[OFF], -1, 0, "offsets"));
    f_count = j_count ? v[OFF].len / 8 / j_count : 0;
    TAKE(NRM, get_f64(normals_o, &v[NRM], j_count * f_count * 3, 0, "normals"));
    TAKE(FIRST, get_i64(first_o, &v[FIRST], n, 1, "first"));
    TAKE(HF, get_f64(hit_f_o, &v[HF], n, 1, "hit_f"));
    TAKE(HS, get_i64(hit_seg_o, &v[HS], n, 1, "hit_seg"));
    TAKE(HQ, get_f64(hit_q_o, &v[HQ], n * 3, 1, "hit_q"));
    if (window < 0) {
        PyErr_SetString(PyExc_ValueError, "window: at least 0");
        goto release;
    }
    {
        const char *in_box = v[NEAR].buf;
        const double *before = v[BEF].buf, *mid_t = v[MID].buf;
        long long *first = v[FIRST].buf, *out_seg = v[HS].buf;
        double *hit_f = v[HF].buf, *out_q = v[HQ].buf;
        Subject sj = {v[CEN].buf, v[RAD].buf, v[REST].buf, v[NRM].buf, v[OFF].buf,
                      v[STA].buf, v[STO].buf, v[CD].buf, v[CDD].buf,
                      j_count, f_count, n, margin};
        Py_ssize_t width = window + 1;
        ahead = PyMem_Malloc(m_count * n + 1);
        fl = PyMem_Malloc((n + 1) * sizeof *fl);
        live = PyMem_Malloc((n + 1) * sizeof *live);
        gaps = PyMem_Malloc((width * n + 1) * sizeof *gaps);
        gap_r = PyMem_Malloc((n + 1) * sizeof *gap_r);
        hit_t = PyMem_Malloc((n + 1) * sizeof *hit_t);
        hq = PyMem_Malloc((3 * n + 1) * sizeof *hq);
        hseg = PyMem_Malloc((n + 1) * sizeof *hseg);
        world_c = PyMem_Malloc((3 * j_count + 1) * sizeof *world_c);
        near = PyMem_Malloc(m_count * n + 1);
        if (!ahead || !near || !fl || !live || !gaps || !gap_r || !hit_t || !hq || !hseg ||
            !world_c) {
            PyErr_NoMemory();
            goto release;
        }
        /* The sub-chords near the subject: in its grown box, before the flight's first hit
         * on a subject tested before it. */
        for (Py_ssize_t m = 0; m < m_count; m++)
            for (Py_ssize_t i = 0; i < n; i++)
                near[m * n + i] = in_box[m * n + i] && m < first[i];
        /* Each flight still to test from a sub-chord on: near the subject there or later. */
        for (Py_ssize_t i = 0; i < n; i++)
            ahead[(m_count - 1) * n + i] = near[(m_count - 1) * n + i] != 0;
        for (Py_ssize_t m = m_count - 2; m >= 0; m--)
            for (Py_ssize_t i = 0; i < n; i++)
                ahead[m * n + i] = near[m * n + i] || ahead[(m + 1) * n + i];
        Py_ssize_t r = m_count;
        for (Py_ssize_t m = 0; m < m_count && r == m_count; m++)
            for (Py_ssize_t i = 0; i < n; i++)
                if (near[m * n + i]) {
                    r = m;
                    break;
                }
        while (r < m_count) {
            /* Every flight still to test is tested at r (those not near at r cannot hit
             * there, but their gap bounds how far the next pose can wait). */
            Py_ssize_t f = 0;
            for (Py_ssize_t i = 0; i < n; i++)
                if (ahead[r * n + i] && r < first[i])
                    fl[f++] = i;
            if (f == 0)
                break;
            PyObject *posed = PyObject_CallFunction(pose_at, "d", mid_t[r]);
            if (posed == NULL)
                goto release;
            poses++;
            Py_buffer pv, rv;
            if (!PyTuple_Check(posed) || PyTuple_GET_SIZE(posed) != 2) {
                PyErr_SetString(PyExc_TypeError, "pose_at: (positions, rotations) expected");
                Py_DECREF(posed);
                goto release;
            }
            if (get_f64(PyTuple_GET_ITEM(posed, 0), &pv, j_count * 3, 0, "positions") < 0) {
                Py_DECREF(posed);
                goto release;
            }
            if (get_f64(PyTuple_GET_ITEM(posed, 1), &rv, j_count * 9, 0, "rotations") < 0) {
                PyBuffer_Release(&pv);
                Py_DECREF(posed);
                goto release;
            }
            Py_ssize_t stop = r + 1 + window < m_count ? r + 1 + window : m_count;
            Py_ssize_t w = stop - r;
            step_core(&sj, pv.buf, rv.buf, r, stop, fl, f, gaps, hit_t, hseg, hq, world_c);
            PyBuffer_Release(&pv);
            PyBuffer_Release(&rv);
            Py_DECREF(posed);
            for (Py_ssize_t i = 0; i < f; i++)
                if (hseg[i] >= 0) {
                    long long who = fl[i];
                    first[who] = r;
                    hit_f[who] = hit_t[i];
                    out_seg[who] = hseg[i];
                    for (int k = 0; k < 3; k++)
                        out_q[who * 3 + k] = hq[i * 3 + k];
                }
            /* Sub-chord j > r can touch the subject (posed at j's middle) only once the path
             * from sub-chord r's start to j's end plus the subject's motion from r's middle
             * to j's middle closes the gap measured at r. */
            Py_ssize_t live_count = 0;
            for (Py_ssize_t i = 0; i < f; i++)
                if (r < first[fl[i]]) {
                    live[live_count] = i; /* a column of gaps; fl[i] its flight */
                    gap_r[live_count] = gaps[i] > 0.0 ? gaps[i] : 0.0;
                    live_count++;
                }
            if (live_count == 0)
                break;
            Py_ssize_t nxt = -1;
            for (Py_ssize_t m = r + 2; m <= m_count && nxt < 0; m++) {
                double motion_m = max_speed * (mid_t[m - 1] - mid_t[r]);
                for (Py_ssize_t k = 0; k < live_count; k++) {
                    long long i = fl[live[k]];
                    if (before[m * n + i] - before[r * n + i] + motion_m >= gap_r[k]) {
                        nxt = m - 1;
                        break;
                    }
                }
            }
            if (nxt < 0)
                break;
            /* Look ahead: a sub-chord of the window whose gap from the subject as posed now
             * exceeds the subject's motion until its middle cannot touch it there either. */
            while (nxt < stop) {
                double motion_m = max_speed * (mid_t[nxt] - mid_t[r]);
                int clear = 1;
                for (Py_ssize_t k = 0; k < live_count && clear; k++)
                    clear = gaps[(nxt - r) * f + live[k]] > motion_m;
                if (!clear)
                    break;
                nxt++;
            }
            (void)w;
            if (nxt >= stop && nxt < m_count) {
                /* Past the window: the same look-ahead against the segments' spheres alone,
                 * over every later sub-chord near the subject. */
                Py_ssize_t found = -1;
                int any_near = 0;
                for (Py_ssize_t m = nxt; m < m_count && found < 0; m++) {
                    double bound = max_speed * (mid_t[m] - mid_t[r]);
                    for (Py_ssize_t k = 0; k < live_count; k++) {
                        long long i = fl[live[k]];
                        Py_ssize_t at = m * n + i;
                        if (!near[at])
                            continue;
                        any_near = 1;
                        double reach = INFINITY;
                        for (Py_ssize_t j = 0; j < j_count; j++) {
                            double g = sphere_gap(sj.starts + at * 3, sj.chord_d + at * 3,
                                                  sj.chord_dd[at], world_c + j * 3,
                                                  sj.radius[j]);
                            if (g < reach || j == 0)
                                reach = g;
                        }
                        if (reach <= bound) {
                            found = m;
                            break;
                        }
                    }
                }
                (void)any_near;
                if (found < 0)
                    break;
                nxt = found;
            }
            r = nxt;
        }
    }
    result = PyLong_FromLong(poses);
release:
    PyMem_Free(ahead);
    PyMem_Free(near);
    PyMem_Free(fl);
    PyMem_Free(live);
    PyMem_Free(gaps);
    PyMem_Free(gap_r);
    PyMem_Free(hit_t);
    PyMem_Free(hq);
    PyMem_Free(hseg);
    PyMem_Free(world_c);
    for (int k = 0; k < NB; k++)
        if (taken[k])
            PyBuffer_Release(&v[k]);
    return result;
}


static const char sub_chords_doc[] =
    "sub_chords(fine, reach_m, t_fine, end_s, boxes, grow, chord_d, stops, chord, chord_dd,\n"
    "           before, cut, in_box)\n"
    "\n"
    "RangeWorld.cast_moving's sub-chords from their ends. See _kernel.pyi.";

static PyObject *
k_sub_chords(PyObject *self, PyObject *args)
{
    PyObject *fine_o, *t_fine_o, *end_o, *boxes_o, *grow_o;
    PyObject *chord_d_o, *stops_o, *chord_o, *chord_dd_o, *before_o, *cut_o, *in_box_o;
    double reach;
    if (!PyArg_ParseTuple(args, "OdOOOOOOOOOOO", &fine_o, &reach, &t_fine_o, &end_o, &boxes_o,
                          &grow_o, &chord_d_o, &stops_o, &chord_o, &chord_dd_o, &before_o,
                          &cut_o, &in_box_o))
        return NULL;
    enum { FINE, TF, END, BOX, GROW, CD, STO, CH, CDD, BEF, CUT, INB, NB };
    Py_buffer v[NB];
    int taken[NB] = {0};
    PyObject *result = NULL;
    Py_ssize_t m_count, n, s_count;
    TAKE(TF, get_f64(t_fine_o, &v[TF], -1, 0, "t_fine"));
    m_count = v[TF].len / 8 - 1;
    TAKE(END, get_f64(end_o, &v[END], -1, 0, "end_s"));
    n = v[END].len / 8;
    if (m_count < 1 || n < 1) {
        PyErr_SetString(PyExc_ValueError, "t_fine, end_s: at least one sub-chord and flight");
        goto release;
    }
    TAKE(FINE, get_f64(fine_o, &v[FINE], (m_count + 1) * n * 3, 0, "fine"));
    TAKE(BOX, get_f64(boxes_o, &v[BOX], -1, 0, "boxes"));
    s_count = v[BOX].len / 8 / 6;
    if (v[BOX].len != s_count * 6 * 8) {
        PyErr_SetString(PyExc_ValueError, "boxes: (S, 2, 3) values expected");
        goto release;
    }
    TAKE(GROW, get_f64(grow_o, &v[GROW], m_count, 0, "grow"));
    TAKE(CD, get_f64(chord_d_o, &v[CD], m_count * n * 3, 1, "chord_d"));
    TAKE(STO, get_f64(stops_o, &v[STO], m_count * n * 3, 1, "stops"));
    TAKE(CH, get_f64(chord_o, &v[CH], m_count * n, 1, "chord"));
    TAKE(CDD, get_f64(chord_dd_o, &v[CDD], m_count * n, 1, "chord_dd"));
    TAKE(BEF, get_f64(before_o, &v[BEF], (m_count + 1) * n, 1, "before"));
    TAKE(CUT, get_f64(cut_o, &v[CUT], m_count * n, 1, "cut"));
    if (PyObject_GetBuffer(in_box_o, &v[INB], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT |
                                                   PyBUF_WRITABLE) < 0)
        goto release;
    taken[INB] = 1;
    if (v[INB].itemsize != 1 || !format_is(&v[INB], "?") ||
        v[INB].len != s_count * m_count * n) {
        PyErr_SetString(PyExc_ValueError, "in_box: (S, M, N) writable bools expected");
        goto release;
    }
    {
        const double *fine = v[FINE].buf, *t_fine = v[TF].buf, *end_s = v[END].buf;
        const double *boxes = v[BOX].buf, *grow = v[GROW].buf;
        double *chord_d = v[CD].buf, *stops = v[STO].buf, *chord = v[CH].buf;
        double *chord_dd = v[CDD].buf, *before = v[BEF].buf, *cut = v[CUT].buf;
        char *in_box = v[INB].buf;
        for (Py_ssize_t i = 0; i < n; i++)
            before[i] = 0.0;
        for (Py_ssize_t m = 0; m < m_count; m++) {
            for (Py_ssize_t i = 0; i < n; i++) {
                Py_ssize_t at = m * n + i;
                const double *a = fine + at * 3, *b = fine + (at + n) * 3;
                double *d = chord_d + at * 3, *stop = stops + at * 3;
                char reached; /* before the reach runs out */
                /* Cut as the numpy form cuts a sub-chord, a + (b - a) * cut at any reach. */
                chord_end(a, b, reach, 1, before[at], &chord[at], &cut[at], &reached, stop, d);
                before[at + n] = before[at] + chord[at];
                double lo[3], hi[3];
                chord_box(a, stop, lo, hi);
                double dd = dot3(d, d);
                chord_dd[at] = dd > 1e-30 ? dd : 1e-30;
                /* A subject can only be hit before the flight ends on the rest of the world,
                 * inside its box at the trigger grown by its motion since. */
                int live = reached && t_fine[m] < end_s[i];
                for (Py_ssize_t s = 0; s < s_count; s++) {
                    const double *bx = boxes + s * 6;
                    double g = grow[m];
                    int inside = live;
                    for (int k = 0; k < 3 && inside; k++)
                        inside = lo[k] <= bx[3 + k] + g && hi[k] >= bx[k] - g;
                    in_box[(s * m_count + m) * n + i] = (char)inside;
                }
            }
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
release:
    for (int k = 0; k < NB; k++)
        if (taken[k])
            PyBuffer_Release(&v[k]);
    return result;
}


/* ---- still casts --------------------------------------------------------------------------- */

static const char chords_doc[] =
    "chords(points, reach_m, chord, before, cut, ends, live)\n"
    "\n"
    "RangeWorld.cast_paths's chords: lengths, path before, reach. See _kernel.pyi.";

static PyObject *
k_chords(PyObject *self, PyObject *args)
{
    PyObject *points_o, *chord_o, *before_o, *cut_o, *ends_o, *live_o;
    double reach;
    if (!PyArg_ParseTuple(args, "OdOOOOO", &points_o, &reach, &chord_o, &before_o, &cut_o,
                          &ends_o, &live_o))
        return NULL;
    enum { PTS, CH, BEF, CUT, ENDS, LIVE, NB };
    Py_buffer v[NB];
    int taken[NB] = {0};
    PyObject *result = NULL;
    Py_ssize_t k_count, n;
    TAKE(BEF, get_f64(before_o, &v[BEF], -1, 1, "before"));
    TAKE(CH, get_f64(chord_o, &v[CH], -1, 1, "chord"));
    k_count = v[BEF].len / 8 - v[CH].len / 8; /* (K + 1) N - K N = N */
    n = k_count;
    if (n <= 0 || v[CH].len / 8 % n != 0) {
        PyErr_SetString(PyExc_ValueError, "chord, before: (K, N) and (K + 1, N) expected");
        goto release;
    }
    k_count = v[CH].len / 8 / n;
    TAKE(PTS, get_f64(points_o, &v[PTS], (k_count + 1) * n * 3, 0, "points"));
    TAKE(CUT, get_f64(cut_o, &v[CUT], k_count * n, 1, "cut"));
    TAKE(ENDS, get_f64(ends_o, &v[ENDS], k_count * n * 3, 1, "ends"));
    if (PyObject_GetBuffer(live_o, &v[LIVE], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) <
        0)
        goto release;
    taken[LIVE] = 1;
    if (v[LIVE].itemsize != 1 || !format_is(&v[LIVE], "?") || v[LIVE].len != k_count * n) {
        PyErr_SetString(PyExc_ValueError, "live: (K, N) writable bools expected");
        goto release;
    }
    {
        const double *points = v[PTS].buf;
        double *chord = v[CH].buf, *before = v[BEF].buf, *cut = v[CUT].buf, *ends = v[ENDS].buf;
        char *live = v[LIVE].buf;
        int finite = isfinite(reach);
        for (Py_ssize_t i = 0; i < n; i++)
            before[i] = 0.0;
        for (Py_ssize_t k = 0; k < k_count; k++)
            for (Py_ssize_t i = 0; i < n; i++) {
                Py_ssize_t at = k * n + i;
                chord_end(points + at * 3, points + (at + n) * 3, reach, finite, before[at],
                          chord + at, cut + at, live + at, ends + at * 3, NULL);
                before[at + n] = before[at] + chord[at];
            }
    }
    Py_INCREF(Py_None);
    result = Py_None;
release:
    for (int k = 0; k < NB; k++)
        if (taken[k])
            PyBuffer_Release(&v[k]);
    return result;
}

static const char candidates_doc[] =
    "candidates(starts, ends, live, boxes, limit, ks, ns) -> int\n"
    "\n"
    "RangeWorld.cast_paths's chords to cast, flight-major. See _kernel.pyi.";

/* Whether the box [lo, hi] meets the box `bb` (its low corner, then its high one). */
static inline int
box_meets(const double *lo, const double *hi, const double *bb)
{
    return lo[0] <= bb[3] && lo[1] <= bb[4] && lo[2] <= bb[5] && hi[0] >= bb[0] &&
           hi[1] >= bb[1] && hi[2] >= bb[2];
}

static PyObject *
k_candidates(PyObject *self, PyObject *args)
{
    PyObject *starts_o, *ends_o, *live_o, *boxes_o, *limit_o, *ks_o, *ns_o;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &starts_o, &ends_o, &live_o, &boxes_o, &limit_o,
                          &ks_o, &ns_o))
        return NULL;
    enum { STA, ENDS, LIVE, BOX, LIM, KS, NS, NB };
    Py_buffer v[NB];
    int taken[NB] = {0};
    PyObject *result = NULL;
    Py_ssize_t k_count, n, b_count, count = 0;
    TAKE(KS, get_i64(ks_o, &v[KS], -1, 1, "ks"));
    TAKE(STA, get_f64(starts_o, &v[STA], v[KS].len / 8 * 3, 0, "starts"));
    TAKE(ENDS, get_f64(ends_o, &v[ENDS], v[KS].len / 8 * 3, 0, "ends"));
    TAKE(NS, get_i64(ns_o, &v[NS], v[KS].len / 8, 1, "ns"));
    if (PyObject_GetBuffer(live_o, &v[LIVE], PyBUF_ND | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto release;
    taken[LIVE] = 1;
    if (v[LIVE].itemsize != 1 || !format_is(&v[LIVE], "?") || v[LIVE].ndim != 2 ||
        v[LIVE].len != v[KS].len / 8) {
        PyErr_SetString(PyExc_ValueError, "live: (K, N) bools expected, one a chord");
        goto release;
    }
    k_count = v[LIVE].shape[0];
    n = v[LIVE].shape[1];
    TAKE(BOX, get_f64(boxes_o, &v[BOX], -1, 0, "boxes"));
    b_count = v[BOX].len / 8 / 6;
    if (v[BOX].len != b_count * 6 * 8) {
        PyErr_SetString(PyExc_ValueError, "boxes: (B, 2, 3) values expected");
        goto release;
    }
    if (limit_o != Py_None)
        TAKE(LIM, get_i64(limit_o, &v[LIM], n, 0, "limit"));
    {
        const double *starts = v[STA].buf, *ends = v[ENDS].buf, *boxes = v[BOX].buf;
        const char *live = v[LIVE].buf;
        const long long *limit = limit_o != Py_None ? v[LIM].buf : NULL;
        long long *ks = v[KS].buf, *ns = v[NS].buf;
        for (Py_ssize_t i = 0; i < n; i++)
            for (Py_ssize_t k = 0; k < k_count; k++) {
                Py_ssize_t at = k * n + i;
                if (!live[at] || (limit != NULL && k > limit[i]))
                    continue;
                const double *a = starts + at * 3, *b = ends + at * 3;
                double lo[3], hi[3];
                chord_box(a, b, lo, hi);
                int near = lo[2] <= 1e-6; /* the floor plane */
                for (Py_ssize_t j = 0; j < b_count && !near; j++)
                    near = box_meets(lo, hi, boxes + j * 6);
                if (near) {
                    ks[count] = k;
                    ns[count] = i;
                    count++;
                }
            }
    }
    result = PyLong_FromSsize_t(count);
release:
    for (int k = 0; k < NB; k++)
        if (taken[k])
            PyBuffer_Release(&v[k]);
    return result;
}


static const char first_hits_doc[] =
    "first_hits(starts, ends, live, cut, ks, ns, uid, frac, picked, end_k, end_f, point,\n"
    "           target)\n"
    "\n"
    "RangeWorld.cast_paths's ends of the flights from its cast chords. See _kernel.pyi.";

static PyObject *
k_first_hits(PyObject *self, PyObject *args)
{
    PyObject *starts_o, *ends_o, *live_o, *cut_o, *ks_o, *ns_o, *uid_o, *frac_o;
    PyObject *picked_o, *end_k_o, *end_f_o, *point_o, *target_o;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOO", &starts_o, &ends_o, &live_o, &cut_o, &ks_o,
                          &ns_o, &uid_o, &frac_o, &picked_o, &end_k_o, &end_f_o, &point_o,
                          &target_o))
        return NULL;
    enum { STA, ENDS, LIVE, CUT, KS, NS, UID, FRAC, PICK, EK, EF, PT, TG, NB };
    Py_buffer v[NB];
    int taken[NB] = {0};
    PyObject *result = NULL;
    Py_ssize_t k_count, n, count;
    if (PyObject_GetBuffer(live_o, &v[LIVE], PyBUF_ND | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto release;
    taken[LIVE] = 1;
    if (v[LIVE].itemsize != 1 || !format_is(&v[LIVE], "?") || v[LIVE].ndim != 2) {
        PyErr_SetString(PyExc_ValueError, "live: (K, N) bools expected");
        goto release;
    }
    k_count = v[LIVE].shape[0];
    n = v[LIVE].shape[1];
    TAKE(STA, get_f64(starts_o, &v[STA], k_count * n * 3, 0, "starts"));
    TAKE(ENDS, get_f64(ends_o, &v[ENDS], k_count * n * 3, 0, "ends"));
    TAKE(CUT, get_f64(cut_o, &v[CUT], k_count * n, 0, "cut"));
    TAKE(KS, get_i64(ks_o, &v[KS], -1, 0, "ks"));
    count = v[KS].len / 8;
    TAKE(NS, get_i64(ns_o, &v[NS], count, 0, "ns"));
    TAKE(UID, get_i64(uid_o, &v[UID], count, 0, "uid"));
    TAKE(FRAC, get_f64(frac_o, &v[FRAC], count, 0, "frac"));
    TAKE(PICK, get_i64(picked_o, &v[PICK], n, 1, "picked"));
    TAKE(EK, get_i64(end_k_o, &v[EK], n, 1, "end_k"));
    TAKE(EF, get_f64(end_f_o, &v[EF], n, 1, "end_f"));
    TAKE(PT, get_f64(point_o, &v[PT], n * 3, 1, "point"));
    TAKE(TG, get_i64(target_o, &v[TG], n, 1, "target"));
    {
        const double *starts = v[STA].buf, *ends = v[ENDS].buf, *cut = v[CUT].buf;
        const double *frac = v[FRAC].buf;
        const char *live = v[LIVE].buf;
        const long long *ks = v[KS].buf, *ns = v[NS].buf, *uid = v[UID].buf;
        long long *picked = v[PICK].buf, *end_k = v[EK].buf, *target = v[TG].buf;
        double *end_f = v[EF].buf, *point = v[PT].buf;
        /* Flights that hit nothing end where their reach (or their samples) ran out. */
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t k = last_live(live + i, k_count, n);
            Py_ssize_t at = k * n + i;
            picked[i] = -1;
            target[i] = -1;
            end_k[i] = k;
            end_f[i] = cut[at];
            for (int d = 0; d < 3; d++)
                point[i * 3 + d] = ends[at * 3 + d];
        }
        /* A flight's first hit: its first cast chord (flight-major order) that hit. */
        for (Py_ssize_t c = 0; c < count; c++) {
            long long i = ns[c], k = ks[c];
            if (i < 0 || i >= n || k < 0 || k >= k_count) {
                PyErr_SetString(PyExc_IndexError, "ks, ns: a chord out of range");
                goto release;
            }
            if (uid[c] < 0 || picked[i] >= 0)
                continue;
            Py_ssize_t at = k * n + i;
            const double *a = starts + at * 3, *b = ends + at * 3;
            picked[i] = c;
            target[i] = uid[c];
            end_k[i] = k;
            end_f[i] = frac[c] * cut[at];
            /* PyBullet's hit position is exactly start + fraction * (end - start). */
            for (int d = 0; d < 3; d++)
                point[i * 3 + d] = a[d] + (b[d] - a[d]) * frac[c];
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
release:
    for (int k = 0; k < NB; k++)
        if (taken[k])
            PyBuffer_Release(&v[k]);
    return result;
}

static const char path_ends_doc[] =
    "path_ends(times_s, speeds, before, chord, end_k, end_f, time, speed, path)\n"
    "\n"
    "Time, speed and path at each flight's end. See _kernel.pyi.";

static PyObject *
k_path_ends(PyObject *self, PyObject *args)
{
    PyObject *times_o, *speeds_o, *before_o, *chord_o, *end_k_o, *end_f_o;
    PyObject *time_o, *speed_o, *path_o;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &times_o, &speeds_o, &before_o, &chord_o,
                          &end_k_o, &end_f_o, &time_o, &speed_o, &path_o))
        return NULL;
    enum { TM, SP, BEF, CH, EK, EF, OT, OS, OP, NB };
    Py_buffer v[NB];
    int taken[NB] = {0};
    PyObject *result = NULL;
    Py_ssize_t k_count, n;
    TAKE(TM, get_f64(times_o, &v[TM], -1, 0, "times_s"));
    k_count = v[TM].len / 8 - 1;
    TAKE(EK, get_i64(end_k_o, &v[EK], -1, 0, "end_k"));
    n = v[EK].len / 8;
    if (k_count < 1) {
        PyErr_SetString(PyExc_ValueError, "times_s: at least one chord");
        goto release;
    }
    TAKE(SP, get_f64(speeds_o, &v[SP], (k_count + 1) * n, 0, "speeds"));
    TAKE(BEF, get_f64(before_o, &v[BEF], (k_count + 1) * n, 0, "before"));
    TAKE(CH, get_f64(chord_o, &v[CH], k_count * n, 0, "chord"));
    TAKE(EF, get_f64(end_f_o, &v[EF], n, 0, "end_f"));
    TAKE(OT, get_f64(time_o, &v[OT], n, 1, "time"));
    TAKE(OS, get_f64(speed_o, &v[OS], n, 1, "speed"));
    TAKE(OP, get_f64(path_o, &v[OP], n, 1, "path"));
    {
        const double *times = v[TM].buf, *speeds = v[SP].buf, *before = v[BEF].buf;
        const double *chord = v[CH].buf, *end_f = v[EF].buf;
        const long long *end_k = v[EK].buf;
        double *time = v[OT].buf, *speed = v[OS].buf, *path = v[OP].buf;
        for (Py_ssize_t i = 0; i < n; i++) {
            long long k = end_k[i];
            if (k < 0 || k >= k_count) {
                PyErr_SetString(PyExc_IndexError, "end_k: a chord out of range");
                goto release;
            }
            double out[3];
            end_state(times, k, end_f[i], speeds[k * n + i], speeds[(k + 1) * n + i],
                      before[k * n + i], chord[k * n + i], out);
            time[i] = out[0];
            speed[i] = out[1];
            path[i] = out[2];
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
release:
    for (int k = 0; k < NB; k++)
        if (taken[k])
            PyBuffer_Release(&v[k]);
    return result;
}

/* ---- one deployment ------------------------------------------------------------------------ */

/* What deploy reads of the subjects (RangeWorld._deploy_scene): S subjects of J joints, F face
 * planes a hull, and each one's zone table (human._zone_table). */
typedef struct {
    const long long *uid, *zone_i;
    const double *pos, *rot, *world_c, *box, *radius, *rest, *normals, *offsets, *zone_f;
    Py_ssize_t s_count, j_count, f_count;
} Scene;

/* human._region_code of a rest-frame point q on segment j of subject s. zone_i holds head,
 * chest, abdomen, pelvis, thigh_l, thigh_r, the codes of face, upper back, lower back,
 * buttocks and groin, then each segment's own code; zone_f face_x, face_z, groin_half,
 * groin_z, crotch_y, crotch_z. */
static long long
region_code(const Scene *sc, Py_ssize_t s, Py_ssize_t j, const double *q)
{
    const long long *zi = sc->zone_i + s * (11 + sc->j_count);
    const double *zf = sc->zone_f + s * 6;
    double x = q[0], y = q[1], z = q[2];
    long long base = zi[11 + j];
    if (j == zi[0])
        return x > zf[0] && z < zf[1] ? zi[6] : base;
    if (j == zi[1])
        return x < 0.0 ? zi[7] : base;
    if (j == zi[2])
        return x < 0.0 ? zi[8] : base;
    if (j == zi[3]) {
        if (x < 0.0)
            return zi[9];
        return fabs(y) < zf[2] && z < zf[3] ? zi[10] : base;
    }
    if ((j == zi[4] || j == zi[5]) && fabs(y) < zf[4] && z > zf[5] && x >= -0.02)
        return zi[10];
    return base;
}

/* The first entry of chord a -> b (d = b - a, dd = max(|d|^2, 1e-30)) into a subject's hulls:
 * each segment whose bounding sphere the chord meets, the chord carried into its rest frame
 * and clipped by its face planes (cast_subject's clipping). Returns the segment (-1: none),
 * with the fraction along the chord and the point on the rest body. */
static Py_ssize_t
enter_subject(const Scene *sc, Py_ssize_t s, const double *a, const double *b, const double *d,
              double dd, double *t_out, double *q_out)
{
    Py_ssize_t jn = sc->j_count, fn = sc->f_count, best = -1;
    const double *pos = sc->pos + s * jn * 3, *rot = sc->rot + s * jn * 9;
    for (Py_ssize_t j = 0; j < jn; j++) {
        if (sphere_gap(a, d, dd, sc->world_c + (s * jn + j) * 3, sc->radius[s * jn + j]) > 0.0)
            continue;
        double t_in, bound, q[3];
        if (!enter_segment(rot + j * 9, pos + j * 3, sc->rest + (s * jn + j) * 3,
                           sc->normals + (s * jn + j) * fn * 3, sc->offsets + (s * jn + j) * fn,
                           fn, a, b, &t_in, &bound, q))
            continue;
        if (best < 0 || t_in < *t_out) {
            best = j;
            *t_out = t_in;
            memcpy(q_out, q, sizeof q);
        }
    }
    return best;
}

#define MAX_PROBES 2
#define MAX_SAMPLES 65
#define DEPLOY_F 9 /* out_f columns: point (3), time, speed, path, rest point (3) */
#define DEPLOY_I 3 /* out_i columns: target, region, segment */

static const char deploy_doc[] =
    "deploy(position, orientation, normals, probes, cos_spread, sin_spread, separation_in,\n"
    "       in_m, reach_m, elevation0, elevation_step, table, times_s, scene, static_boxes,\n"
    "       floor_uid, hits, cand_k, cand_n, cand_a, cand_b, out_f, out_i[, out_points,\n"
    "       out_speeds]) -> int\n"
    "\n"
    "One trigger pull's probes against still subjects, launch to ends. See _kernel.pyi.";

static PyObject *
k_deploy(PyObject *self, PyObject *args)
{
    double o[3], quat[4], cos_s, sin_s, sep_in, in_m, reach, e0, de;
    Py_ssize_t probes, floor_uid;
    PyObject *normals_o, *table_o, *times_o, *scene_o, *boxes_o, *hits_o;
    PyObject *ck_o, *cn_o, *ca_o, *cb_o, *out_f_o, *out_i_o;
    PyObject *s_uid_o, *s_pos_o, *s_rot_o, *s_wc_o, *s_box_o, *s_rad_o, *s_rest_o, *s_nrm_o;
    PyObject *s_off_o, *s_zf_o, *s_zi_o, *h_uid_o = NULL, *h_frac_o = NULL;
    PyObject *pts_o = Py_None, *spd_o = Py_None;
    if (!PyArg_ParseTuple(args, "(ddd)(dddd)OndddddddOOO!OnOOOOOOO|OO", &o[0], &o[1], &o[2],
                          &quat[0], &quat[1], &quat[2], &quat[3], &normals_o, &probes, &cos_s,
                          &sin_s, &sep_in, &in_m, &reach, &e0, &de, &table_o, &times_o,
                          &PyTuple_Type, &scene_o, &boxes_o, &floor_uid, &hits_o, &ck_o, &cn_o,
                          &ca_o, &cb_o, &out_f_o, &out_i_o, &pts_o, &spd_o))
        return NULL;
    if ((pts_o == Py_None) != (spd_o == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "out_points and out_speeds: both or neither");
        return NULL;
    }
    if (!PyArg_ParseTuple(scene_o, "OOOOOOOOOOO", &s_uid_o, &s_pos_o, &s_rot_o, &s_wc_o,
                          &s_box_o, &s_rad_o, &s_rest_o, &s_nrm_o, &s_off_o, &s_zf_o, &s_zi_o))
        return NULL;
    int cast_here = PyCallable_Check(hits_o); /* PyBullet asked from inside the call */
    if (hits_o != Py_None && !cast_here && !PyArg_ParseTuple(hits_o, "OO", &h_uid_o, &h_frac_o))
        return NULL;
    if (probes < 1 || probes > MAX_PROBES) {
        PyErr_SetString(PyExc_ValueError, "probes: 1 or 2");
        return NULL;
    }
    enum { NRM, TAB, TIM, UID, POS, ROT, WC, SB, RAD, REST, HN, HO, ZF, ZI, BOX, HU, HF, CK,
           CN, CA, CB, OF, OI, PTS, SPD, NB };
    Py_buffer v[NB];
    int taken[NB] = {0};
    PyObject *result = NULL, *cast = NULL, *answers = NULL;
    Py_ssize_t k_count, e_count, s_count, j_count, f_count, b_count, h_count = 0;
    Py_ssize_t p_count = probes, count = 0;
    if (normals_o != Py_None)
        TAKE(NRM, get_f64(normals_o, &v[NRM], p_count * 2, 0, "normals"));
    TAKE(TIM, get_f64(times_o, &v[TIM], -1, 0, "times_s"));
    k_count = v[TIM].len / 8 - 1;
    if (k_count < 1 || k_count + 1 > MAX_SAMPLES) {
        PyErr_SetString(PyExc_ValueError, "times_s: 2 to 65 samples");
        goto release;
    }
    TAKE(TAB, get_f64(table_o, &v[TAB], -1, 0, "table"));
    e_count = v[TAB].len / 8 / (3 * (k_count + 1));
    if (e_count < 2 || v[TAB].len != e_count * 3 * (k_count + 1) * 8) {
        PyErr_SetString(PyExc_ValueError, "table: (E, 3, K + 1) values, E >= 2, expected");
        goto release;
    }
    TAKE(UID, get_i64(s_uid_o, &v[UID], -1, 0, "scene uid"));
    s_count = v[UID].len / 8;
    TAKE(RAD, get_f64(s_rad_o, &v[RAD], -1, 0, "scene radius"));
    j_count = s_count > 0 ? v[RAD].len / 8 / s_count : 0;
    if (v[RAD].len != s_count * j_count * 8) {
        PyErr_SetString(PyExc_ValueError, "scene radius: (S, J) values expected");
        goto release;
    }
    TAKE(HO, get_f64(s_off_o, &v[HO], -1, 0, "scene offsets"));
    f_count = s_count * j_count > 0 ? v[HO].len / 8 / (s_count * j_count) : 0;
    if (v[HO].len != s_count * j_count * f_count * 8) {
        PyErr_SetString(PyExc_ValueError, "scene offsets: (S, J, F) values expected");
        goto release;
    }
    TAKE(POS, get_f64(s_pos_o, &v[POS], s_count * j_count * 3, 0, "scene pos"));
    TAKE(ROT, get_f64(s_rot_o, &v[ROT], s_count * j_count * 9, 0, "scene rot"));
    TAKE(WC, get_f64(s_wc_o, &v[WC], s_count * j_count * 3, 0, "scene world_c"));
    TAKE(SB, get_f64(s_box_o, &v[SB], s_count * 6, 0, "scene box"));
    TAKE(REST, get_f64(s_rest_o, &v[REST], s_count * j_count * 3, 0, "scene rest"));
    TAKE(HN, get_f64(s_nrm_o, &v[HN], s_count * j_count * f_count * 3, 0, "scene normals"));
    TAKE(ZF, get_f64(s_zf_o, &v[ZF], s_count * 6, 0, "scene zone_f"));
    TAKE(ZI, get_i64(s_zi_o, &v[ZI], s_count * (11 + j_count), 0, "scene zone_i"));
    TAKE(BOX, get_f64(boxes_o, &v[BOX], -1, 0, "static_boxes"));
    b_count = v[BOX].len / 8 / 6;
    if (v[BOX].len != b_count * 6 * 8) {
        PyErr_SetString(PyExc_ValueError, "static_boxes: (B, 2, 3) values expected");
        goto release;
    }
    if (h_uid_o != NULL) {
        TAKE(HU, get_i64(h_uid_o, &v[HU], -1, 0, "hits uid"));
        h_count = v[HU].len / 8;
        TAKE(HF, get_f64(h_frac_o, &v[HF], h_count, 0, "hits frac"));
    }
    TAKE(CK, get_i64(ck_o, &v[CK], -1, 1, "cand_k"));
    if (v[CK].len / 8 < k_count * p_count) {
        PyErr_SetString(PyExc_ValueError, "cand_k: room for K * probes chords needed");
        goto release;
    }
    TAKE(CN, get_i64(cn_o, &v[CN], v[CK].len / 8, 1, "cand_n"));
    TAKE(CA, get_f64(ca_o, &v[CA], v[CK].len / 8 * 3, 1, "cand_a"));
    TAKE(CB, get_f64(cb_o, &v[CB], v[CK].len / 8 * 3, 1, "cand_b"));
    TAKE(OF, get_f64(out_f_o, &v[OF], p_count * DEPLOY_F, 1, "out_f"));
    TAKE(OI, get_i64(out_i_o, &v[OI], p_count * DEPLOY_I, 1, "out_i"));
    if (pts_o != Py_None) {
        TAKE(PTS, get_f64(pts_o, &v[PTS], (k_count + 1) * p_count * 3, 1, "out_points"));
        TAKE(SPD, get_f64(spd_o, &v[SPD], (k_count + 1) * p_count, 1, "out_speeds"));
    }
    {
        const double *table = v[TAB].buf, *times = v[TIM].buf, *boxes = v[BOX].buf;
        const double *normals = normals_o != Py_None ? v[NRM].buf : NULL;
        Scene sc = {v[UID].buf, v[ZI].buf, v[POS].buf, v[ROT].buf, v[WC].buf, v[SB].buf,
                    v[RAD].buf, v[REST].buf, v[HN].buf, v[HO].buf, v[ZF].buf,
                    s_count, j_count, f_count};
        long long *cand_k = v[CK].buf, *cand_n = v[CN].buf, *out_i = v[OI].buf;
        double *cand_a = v[CA].buf, *cand_b = v[CB].buf, *out_f = v[OF].buf;
        const long long *h_uid = h_uid_o != NULL ? v[HU].buf : NULL;
        const double *h_frac = h_uid_o != NULL ? v[HF].buf : NULL;
        double *out_pts = pts_o != Py_None ? v[PTS].buf : NULL;
        double *out_spd = spd_o != Py_None ? v[SPD].buf : NULL;
        /* The muzzle's rotation: pose.quat_to_matrix's Python float arithmetic. Columns: bore,
         * left, top. */
        double qx = quat[0], qy = quat[1], qz = quat[2], qw = quat[3];
        double qn = qx * qx + qy * qy + qz * qz + qw * qw;
        if (qn == 0.0) {
            PyErr_SetString(PyExc_ValueError, "zero quaternion has no rotation");
            goto release;
        }
        double s2 = 2.0 / qn;
        double r[9] = {
            1 - s2 * (qy * qy + qz * qz), s2 * (qx * qy - qz * qw), s2 * (qx * qz + qy * qw),
            s2 * (qx * qy + qz * qw), 1 - s2 * (qx * qx + qz * qz), s2 * (qy * qz - qx * qw),
            s2 * (qx * qz - qy * qw), s2 * (qy * qz + qx * qw), 1 - s2 * (qx * qx + qy * qy),
        };
        double fwd[3] = {r[0], r[3], r[6]}, left[3] = {r[1], r[4], r[7]};
        double up[3] = {r[2], r[5], r[8]};
        /* Per probe: launch (taser.probe_launch, flight.angular_scatter), flight
         * (SampledFlights.flights), chords (kernel chords), then its first hit on the subjects
         * or the floor, kept per probe until PyBullet has answered for the chords that may
         * meet the rest of the world (one ray cast for every probe's). */
        double pts[MAX_PROBES][MAX_SAMPLES][3], spd[MAX_PROBES][MAX_SAMPLES];
        double ends[MAX_PROBES][MAX_SAMPLES][3], chord[MAX_PROBES][MAX_SAMPLES];
        double before[MAX_PROBES][MAX_SAMPLES], cut[MAX_PROBES][MAX_SAMPLES];
        char live[MAX_PROBES][MAX_SAMPLES];
        Py_ssize_t first_cs[MAX_PROBES + 1];
        /* Each probe's first hit: k the chord (-1 none), t the fraction along it; s the
         * subject row (-1 none) and j its segment; uid the floor's or a static body's uid
         * when s < 0; q the hit on the rest body, set where s >= 0. */
        struct first_hit {
            Py_ssize_t k, s, j;
            long long uid;
            double t, q[3];
        } first_hits[MAX_PROBES];
        int finite = isfinite(reach);
        for (Py_ssize_t pr = 0; pr < p_count; pr++) {
            double start[3], dir[3], ax[3], bx[3];
            for (int k = 0; k < 3; k++) {
                if (pr == 0) {
                    start[k] = o[k];
                    dir[k] = fwd[k];
                    bx[k] = up[k];
                } else {
                    start[k] = o[k] - up[k] * sep_in * in_m;
                    dir[k] = fwd[k] * cos_s - up[k] * sin_s;
                    bx[k] = up[k] * cos_s + fwd[k] * sin_s;
                }
                ax[k] = left[k];
            }
            if (normals != NULL) {
                double t0 = tan(normals[pr * 2]), t1 = tan(normals[pr * 2 + 1]), out[3];
                for (int k = 0; k < 3; k++)
                    out[k] = dir[k] + ax[k] * t0 + bx[k] * t1;
                double norm = sqrt(dot3(out, out));
                for (int k = 0; k < 3; k++)
                    dir[k] = out[k] / norm;
            }
            double horizontal = hypot(dir[0], dir[1]), az_x, az_y;
            if (horizontal < 1e-12) {
                az_x = 1.0;
                az_y = 0.0;
            } else {
                az_x = dir[0] / horizontal;
                az_y = dir[1] / horizontal;
            }
            double at = (atan2(dir[2], horizontal) - e0) / de;
            at = at > 0.0 ? at : 0.0;
            double top = (double)e_count - 1.000001;
            at = at < top ? at : top;
            Py_ssize_t row = (Py_ssize_t)at;
            double f = at - (double)row;
            const double *r0 = table + row * 3 * (k_count + 1), *r1 = r0 + 3 * (k_count + 1);
            double(*pt)[3] = pts[pr], *sp = spd[pr], (*en)[3] = ends[pr];
            double *ch = chord[pr], *bf = before[pr], *ct = cut[pr];
            char *lv = live[pr];
            for (Py_ssize_t k = 0; k <= k_count; k++) {
                double forward = r0[k] * (1.0 - f) + r1[k] * f;
                double upward = r0[k_count + 1 + k] * (1.0 - f) + r1[k_count + 1 + k] * f;
                sp[k] = r0[2 * (k_count + 1) + k] * (1.0 - f) + r1[2 * (k_count + 1) + k] * f;
                pt[k][0] = start[0] + forward * az_x;
                pt[k][1] = start[1] + forward * az_y;
                pt[k][2] = start[2] + upward;
            }
            if (out_pts != NULL) /* the flight as SampledFlights.flights lays it out */
                for (Py_ssize_t k = 0; k <= k_count; k++) {
                    memcpy(out_pts + (k * p_count + pr) * 3, pt[k], 3 * sizeof(double));
                    out_spd[k * p_count + pr] = sp[k];
                }
            bf[0] = 0.0;
            for (Py_ssize_t k = 0; k < k_count; k++) {
                chord_end(pt[k], pt[k + 1], reach, finite, bf[k], &ch[k], &ct[k], &lv[k], en[k],
                          NULL);
                bf[k + 1] = bf[k] + ch[k];
            }
            /* The first hit on the subjects or the floor (the plane z = 0, PyBullet's
             * GEOM_PLANE: the fraction za / (za - zb) where the chord crosses it), chord by
             * chord; on one chord the floor wins a tie (PyBullet's hits did). On the way,
             * the chords that may meet the rest of the world (walls, backstop, targets,
             * cover, props), up to the first hit's: PyBullet casts them (`hits`, in this
             * order). */
            first_cs[pr] = count;
            struct first_hit *h = &first_hits[pr];
            h->k = h->s = h->j = -1;
            h->uid = -1;
            h->t = 1.0;
            h->q[0] = h->q[1] = h->q[2] = NAN;
            for (Py_ssize_t k = 0; k < k_count && h->k < 0; k++) {
                if (!lv[k])
                    continue;
                const double *a = pt[k], *b = en[k];
                double lo[3], hi[3], d[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
                chord_box(a, b, lo, hi);
                double dd = dot3(d, d);
                dd = dd > 1e-30 ? dd : 1e-30;
                for (Py_ssize_t s = 0; s < s_count; s++) {
                    /* The broad phase: the subject's box, then each segment's sphere. */
                    if (!box_meets(lo, hi, sc.box + s * 6))
                        continue;
                    double t = 1.0, q[3] = {0.0, 0.0, 0.0}; /* set where j >= 0 */
                    Py_ssize_t j = enter_subject(&sc, s, a, b, d, dd, &t, q);
                    if (j >= 0 && (h->k < 0 || t < h->t)) {
                        h->k = k;
                        h->s = s;
                        h->j = j;
                        h->t = t;
                        memcpy(h->q, q, sizeof q);
                    }
                }
                if (a[2] * b[2] < 0.0) {
                    double t = a[2] / (a[2] - b[2]);
                    if (h->k < 0 || t <= h->t) {
                        h->k = k;
                        h->s = h->j = -1;
                        h->uid = floor_uid;
                        h->t = t;
                        h->q[0] = h->q[1] = h->q[2] = NAN;
                    }
                }
                int near = 0;
                for (Py_ssize_t m = 0; m < b_count && !near; m++)
                    near = box_meets(lo, hi, boxes + m * 6);
                if (near) {
                    cand_k[count] = k;
                    cand_n[count] = pr;
                    memcpy(cand_a + count * 3, a, 3 * sizeof(double));
                    memcpy(cand_b + count * 3, b, 3 * sizeof(double));
                    count++;
                }
            }
        }
        first_cs[p_count] = count;
        /* PyBullet's answer for the candidate chords: given (`hits`), or asked here, once for
         * every probe's, by calling `hits` with their count (rayTestBatch's results: body id
         * first, the fraction third). */
        long long cast_uid[MAX_PROBES * MAX_SAMPLES];
        double cast_frac[MAX_PROBES * MAX_SAMPLES];
        if (cast_here && count > 0) {
            answers = PyObject_CallFunction(hits_o, "n", count);
            if (answers == NULL)
                goto release;
            cast = PySequence_Fast(answers, "hits: the cast's answers must be a sequence");
            if (cast == NULL)
                goto release;
            h_count = PySequence_Fast_GET_SIZE(cast);
            if (h_count != count) {
                PyErr_SetString(PyExc_ValueError, "hits: one per candidate chord expected");
                goto release;
            }
            for (Py_ssize_t c = 0; c < count; c++) {
                PyObject *item = PySequence_Fast_GET_ITEM(cast, c);
                PyObject *uid_o = NULL, *frac_o = NULL;
                if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) >= 3) {
                    uid_o = PyTuple_GET_ITEM(item, 0);
                    frac_o = PyTuple_GET_ITEM(item, 2);
                } else {
                    PyErr_SetString(PyExc_ValueError,
                                    "hits: each answer a tuple (body id, link, fraction, ...)");
                    goto release;
                }
                cast_uid[c] = PyLong_AsLongLong(uid_o);
                cast_frac[c] = PyFloat_AsDouble(frac_o);
                if (PyErr_Occurred())
                    goto release;
            }
            h_uid = cast_uid;
            h_frac = cast_frac;
        } else if (h_uid != NULL && count != h_count) {
            PyErr_SetString(PyExc_ValueError, "hits: one per candidate chord expected");
            goto release;
        }
        for (Py_ssize_t pr = 0; pr < p_count; pr++) {
            struct first_hit *h = &first_hits[pr];
            double(*pt)[3] = pts[pr], *sp = spd[pr], (*en)[3] = ends[pr];
            double *ch = chord[pr], *bf = before[pr], *ct = cut[pr];
            char *lv = live[pr];
            if (h_uid != NULL) {
                /* The first of this probe's cast chords that hit something; it wins a tie. */
                for (Py_ssize_t c = first_cs[pr]; c < first_cs[pr + 1]; c++) {
                    if (h_uid[c] < 0)
                        continue;
                    Py_ssize_t k = cand_k[c];
                    if (h->k < 0 || k < h->k || (k == h->k && h_frac[c] <= h->t)) {
                        h->k = k;
                        h->s = h->j = -1;
                        h->uid = h_uid[c]; /* a static body */
                        h->t = h_frac[c];
                        h->q[0] = h->q[1] = h->q[2] = NAN;
                    }
                    break;
                }
            }
            double *of = out_f + pr * DEPLOY_F;
            long long *oi = out_i + pr * DEPLOY_I;
            Py_ssize_t k;
            double end_f;
            if (h->k >= 0) {
                k = h->k;
                end_f = h->t * ct[k];
                for (int m = 0; m < 3; m++)
                    of[m] = pt[k][m] + (en[k][m] - pt[k][m]) * h->t;
                if (h->s >= 0) {
                    oi[0] = sc.uid[h->s];
                    oi[1] = region_code(&sc, h->s, h->j, h->q);
                    oi[2] = h->j;
                } else {
                    oi[0] = h->uid;
                    oi[1] = oi[2] = -1;
                }
            } else {
                /* Nothing hit: the flight ends where its reach (or its samples) ran out. */
                k = last_live(lv, k_count, 1);
                end_f = ct[k];
                for (int m = 0; m < 3; m++)
                    of[m] = en[k][m];
                oi[0] = oi[1] = oi[2] = -1;
            }
            end_state(times, k, end_f, sp[k], sp[k + 1], bf[k], ch[k], of + 3);
            for (int m = 0; m < 3; m++)
                of[6 + m] = h->q[m];
        }
    }
    result = PyLong_FromSsize_t(count);
release:
    Py_XDECREF(cast);
    Py_XDECREF(answers);
    for (int k = 0; k < NB; k++)
        if (taken[k])
            PyBuffer_Release(&v[k]);
    return result;
}

/* ---- PyBullet's link states --------------------------------------------------------------- */

/* A rotation matrix's unit quaternion (x, y, z, w), w >= 0: Shepperd's method in the order of
 * physics.human.matrices_to_quats (and animation._quat_floats), so the same bits. */
static void
quat_of(const double *m, double *q)
{
    double diag[4] = {
        1 + m[0] - m[4] - m[8],
        1 - m[0] + m[4] - m[8],
        1 - m[0] - m[4] + m[8],
        1 + m[0] + m[4] + m[8],
    };
    int best = 0;
    for (int i = 1; i < 4; i++) /* np.argmax: the first of equal largest */
        if (diag[i] > diag[best])
            best = i;
    double xy = m[1] + m[3], xz = m[2] + m[6], yz = m[5] + m[7];
    double wx = m[7] - m[5], wy = m[2] - m[6], wz = m[3] - m[1];
    double rows[4][4] = {
        {diag[0], xy, xz, wx},
        {xy, diag[1], yz, wy},
        {xz, yz, diag[2], wz},
        {wx, wy, wz, diag[3]},
    };
    double den = 2.0 * sqrt(diag[best] > 1e-300 ? diag[best] : 1e-300);
    for (int k = 0; k < 4; k++)
        q[k] = rows[best][k] / den;
    if (q[3] < 0)
        for (int k = 0; k < 4; k++)
            q[k] = q[k] * -1;
}

static PyObject *
float_list(const double *v, int count)
{
    PyObject *out = PyList_New(count);
    if (out == NULL)
        return NULL;
    for (int k = 0; k < count; k++) {
        PyObject *x = PyFloat_FromDouble(v[k]);
        if (x == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k, x);
    }
    return out;
}

static const char link_states_doc[] =
    "link_states(rests, placements, index, joint_count) -> list\n"
    "\n"
    "What RangeWorld.sync hands resetJointStatesMultiDof per subject. See _kernel.pyi.";

static PyObject *
k_link_states(PyObject *self, PyObject *args)
{
    PyObject *rests, *placements, *index;
    Py_ssize_t j_count;
    if (!PyArg_ParseTuple(args, "OOO!n", &rests, &placements, &PyDict_Type, &index, &j_count))
        return NULL;
    if (j_count < 1 || j_count > MAX_JOINTS) {
        PyErr_SetString(PyExc_ValueError, "joint_count: 1 to 64 joints");
        return NULL;
    }
    Py_ssize_t count = PySequence_Size(placements);
    if (count < 0)
        return NULL;
    if (PySequence_Size(rests) != count) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "one rest and one placement per subject");
        return NULL;
    }
    PyObject *out = PyList_New(count);
    if (out == NULL)
        return NULL;
    PyObject *unturned = NULL; /* the shared [0, 0, 0, 1] of unturned joints, made on first use */
    for (Py_ssize_t s = 0; s < count; s++) {
        PyObject *placed = PySequence_GetItem(placements, s);
        PyObject *rest_o = PySequence_GetItem(rests, s);
        PyObject *joints = NULL, *root_o = NULL, *off_o = NULL, *row = NULL;
        Py_buffer rest_v;
        int have_rest = 0, fail = placed == NULL || rest_o == NULL;
        double feet[3], off[3], root[9], first[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, yaw_rad = 0;
        double mats[MAX_JOINTS][9];
        int present[MAX_JOINTS] = {0};
        if (!fail && (!PyTuple_Check(placed) || PyTuple_GET_SIZE(placed) != 3)) {
            PyErr_SetString(PyExc_TypeError, "placements: (feet, yaw_rad, pose) per subject");
            fail = 1;
        }
        if (!fail) {
            PyObject *pose = PyTuple_GET_ITEM(placed, 2);
            fail = read_vec3(PyTuple_GET_ITEM(placed, 0), feet, "feet") < 0;
            yaw_rad = fail ? 0.0 : PyFloat_AsDouble(PyTuple_GET_ITEM(placed, 1));
            fail = fail || (yaw_rad == -1.0 && PyErr_Occurred());
            if (!fail) {
                joints = PyObject_GetAttrString(pose, "joints");
                root_o = PyObject_GetAttrString(pose, "root_rotation");
                off_o = PyObject_GetAttrString(pose, "root_offset_m");
                fail = joints == NULL || root_o == NULL || off_o == NULL;
            }
            if (!fail && !PyDict_Check(joints)) {
                PyErr_SetString(PyExc_TypeError, "pose.joints: a dict");
                fail = 1;
            }
            if (!fail)
                fail = read_mat3(root_o, root, "root rotation") < 0 ||
                       read_vec3(off_o, off, "root offset") < 0;
        }
        if (!fail) {
            fail = get_f64(rest_o, &rest_v, j_count * 3, 0, "rest") < 0;
            have_rest = !fail;
        }
        if (!fail) {
            PyObject *key, *value;
            Py_ssize_t at = 0;
            while (PyDict_Next(joints, &at, &key, &value)) {
                PyObject *slot = PyDict_GetItemWithError(index, key);
                if (slot == NULL) {
                    if (!PyErr_Occurred())
                        PyErr_Format(PyExc_KeyError, "%R is not a joint", key);
                    fail = 1;
                    break;
                }
                long j = PyLong_AsLong(slot);
                if (j < 0 || j >= j_count) {
                    if (!PyErr_Occurred())
                        PyErr_SetString(PyExc_ValueError, "index: a joint out of range");
                    fail = 1;
                    break;
                }
                if (read_mat3(value, mats[j], "joint rotation") < 0) {
                    fail = 1;
                    break;
                }
                present[j] = 1;
            }
        }
        if (!fail) {
            const double *rest = (const double *)rest_v.buf;
            double cy = cos(yaw_rad), sy = sin(yaw_rad);
            double yaw[9] = {cy, -sy, 0.0, sy, cy, 0.0, 0.0, 0.0, 1.0};
            double pelvis[3], turned[3], base[3], yr[9], r0[9], q[4];
            for (int k = 0; k < 3; k++)
                pelvis[k] = rest[k] + off[k];
            mat3_vec(yaw, pelvis, turned);
            for (int k = 0; k < 3; k++)
                base[k] = feet[k] + turned[k];
            if (present[0])
                memcpy(first, mats[0], sizeof first);
            mat3_mul(yaw, root, yr);
            mat3_mul(yr, first, r0);
            row = PyList_New(3 + j_count);
            fail = row == NULL;
            for (int k = 0; k < 3 && !fail; k++) {
                PyObject *one = float_list(base + k, 1);
                fail = one == NULL;
                if (!fail)
                    PyList_SET_ITEM(row, k, one);
            }
            for (Py_ssize_t j = 0; j < j_count && !fail; j++) {
                static const double identity[4] = {0.0, 0.0, 0.0, 1.0};
                PyObject *ql;
                if (j != 0 && !present[j]) {
                    /* A joint the pose leaves unturned (about half of them): one [0, 0, 0, 1]
                     * list shared by every such joint of the call (PyBullet only reads it). */
                    if (unturned == NULL)
                        unturned = float_list(identity, 4);
                    Py_XINCREF(unturned);
                    ql = unturned;
                } else {
                    quat_of(j == 0 ? r0 : mats[j], q);
                    ql = float_list(q, 4);
                }
                fail = ql == NULL;
                if (!fail)
                    PyList_SET_ITEM(row, 3 + j, ql);
            }
        }
        if (have_rest)
            PyBuffer_Release(&rest_v);
        Py_XDECREF(placed);
        Py_XDECREF(rest_o);
        Py_XDECREF(joints);
        Py_XDECREF(root_o);
        Py_XDECREF(off_o);
        if (fail) {
            Py_XDECREF(row);
            Py_DECREF(out);
            Py_XDECREF(unturned);
            return NULL;
        }
        PyList_SET_ITEM(out, s, row);
    }
    Py_XDECREF(unturned);
    return out;
}


/* ---- animation --------------------------------------------------------------------------- */

/* The rotation about +X, +Y or +Z (axis 0, 1, 2) by `a` radians into m (row-major 3x3), as
 * human.rot_x / rot_y / rot_z build it with math.cos and math.sin (the same libm calls);
 * 0, or -1 for another axis. */
static int
fill_rotation(long axis, double a, double *m)
{
    double c = cos(a), sn = sin(a);
    switch (axis) {
    case 0: {
        double r[9] = {1.0, 0.0, 0.0, 0.0, c, -sn, 0.0, sn, c};
        memcpy(m, r, sizeof r);
        return 0;
    }
    case 1: {
        double r[9] = {c, 0.0, sn, 0.0, 1.0, 0.0, -sn, 0.0, c};
        memcpy(m, r, sizeof r);
        return 0;
    }
    case 2: {
        double r[9] = {c, -sn, 0.0, sn, c, 0.0, 0.0, 0.0, 1.0};
        memcpy(m, r, sizeof r);
        return 0;
    }
    default:
        return -1;
    }
}

static const char rot_y_many_doc[] =
    "rot_y_many(angles, out)\n"
    "\n"
    "Rotations about +Y by each angle (radians) into out (K, 3, 3). See _kernel.pyi.";

static PyObject *
k_rot_y_many(PyObject *self, PyObject *args)
{
    PyObject *angles_o, *out_o;
    if (!PyArg_ParseTuple(args, "OO", &angles_o, &out_o))
        return NULL;
    PyObject *seq = PySequence_Fast(angles_o, "angles: a sequence of floats");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    Py_buffer view;
    if (get_f64(out_o, &view, count * 9, 1, "out") < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    double *out = view.buf;
    for (Py_ssize_t i = 0; i < count; i++) {
        double a = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (a == -1.0 && PyErr_Occurred()) {
            PyBuffer_Release(&view);
            Py_DECREF(seq);
            return NULL;
        }
        fill_rotation(1, a, out + i * 9); /* human.rot_y */
    }
    PyBuffer_Release(&view);
    Py_DECREF(seq);
    Py_RETURN_NONE;
}

static const char rotation_doc[] =
    "rotation(axis, angle, out)\n"
    "\n"
    "The rotation about +X, +Y or +Z (axis 0, 1, 2) by angle (radians) into out (3, 3).\n"
    "See _kernel.pyi.";

/* One call for human.rot_x / rot_y / rot_z, which a frame's poses call ~10 times a subject:
 * numpy built each from a 9-tuple and a reshape (~0.6 us); here only numpy's np.empty is left. */
static PyObject *
k_rotation(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "rotation(axis, angle, out) takes 3 arguments");
        return NULL;
    }
    long axis = PyLong_AsLong(args[0]);
    if (axis == -1 && PyErr_Occurred())
        return NULL;
    double a = PyFloat_AsDouble(args[1]);
    if (a == -1.0 && PyErr_Occurred())
        return NULL;
    Py_buffer view;
    if (get_f64(args[2], &view, 9, 1, "out") < 0)
        return NULL;
    if (fill_rotation(axis, a, view.buf) < 0) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "axis: 0, 1 or 2 expected, got %ld", axis);
        return NULL;
    }
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"forward_kinematics", k_forward_kinematics, METH_VARARGS, fk_doc},
    {"link_states", k_link_states, METH_VARARGS, link_states_doc},
    {"cast_subject", k_cast_subject, METH_VARARGS, cast_subject_doc},
    {"sub_chords", k_sub_chords, METH_VARARGS, sub_chords_doc},
    {"chords", k_chords, METH_VARARGS, chords_doc},
    {"candidates", k_candidates, METH_VARARGS, candidates_doc},
    {"first_hits", k_first_hits, METH_VARARGS, first_hits_doc},
    {"path_ends", k_path_ends, METH_VARARGS, path_ends_doc},
    {"deploy", k_deploy, METH_VARARGS, deploy_doc},
    {"rot_y_many", k_rot_y_many, METH_VARARGS, rot_y_many_doc},
    {"rotation", (PyCFunction)(void (*)(void))k_rotation, METH_FASTCALL, rotation_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "physics._kernel",
    "The compiled inner loops of posing and probe flight (physics/_kernel.c).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__kernel(void)
{
    return PyModule_Create(&module);
}
