"""One moderngl renderer for the range: headless review images now (EGL; Mesa llvmpipe on a
machine with no GPU), the instructor's mirror and the headset's stereo views from the same
scene and the same code.

The scene is built from the physics geometry: subjects from the same convex segments as their
collision hulls, posed by the same skeleton; paper targets; impact markers; bullet paths.
Cameras are poses in the physics frame (+X forward, +Z up), like every other pose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from physics.body import SubjectBody
from physics.human import SEGMENTS, HumanPose, Skeleton, posed_vertices
from physics.pose import Pose, quat_to_matrix, yaw_quat
from physics.props import PropPart
from physics.targets import Ellipse, PaperTarget, Rect
from physics.units import FT_M, IN_M

if TYPE_CHECKING:
    from drills.schema import Scene as Place

F32 = NDArray[np.float32]

SKY = (0.62, 0.70, 0.78)
SKIN = (0.78, 0.60, 0.48)
SKIN_CHILD = (0.85, 0.68, 0.56)
# Prop materials (physics.props): car paint a police-training grey-blue sedan, tinted glass,
# black tyres, painted drywall, a brown couch, concrete.
MATERIALS = {
    "paint": (0.20, 0.26, 0.40),
    "engine": (0.18, 0.18, 0.18),
    "tyre": (0.06, 0.06, 0.06),
    "glass": (0.10, 0.14, 0.18),
    "drywall": (0.80, 0.78, 0.72),
    "fabric": (0.42, 0.28, 0.18),
    "wood": (0.55, 0.38, 0.22),
    "concrete": (0.62, 0.62, 0.60),
    "pavement": (0.55, 0.55, 0.53),
}
COLOURS = {
    "floor": (0.42, 0.40, 0.36),
    "wall": (0.55, 0.53, 0.50),
    "backstop": (0.35, 0.28, 0.22),
    "subject": (0.20, 0.30, 0.60),
    "bystander": (0.30, 0.55, 0.35),
    "officer": (0.12, 0.12, 0.16),
    "target": (0.93, 0.90, 0.80),
    "cover": (0.45, 0.45, 0.48),
    "probe": (1.0, 0.85, 0.0),
    "weapon": (0.08, 0.08, 0.08),
    "taser": (0.95, 0.80, 0.10),
    "knife": (0.80, 0.82, 0.85),
    "gun": (0.10, 0.10, 0.10),
    "phone": (0.06, 0.06, 0.07),
    "screen": (0.80, 0.88, 1.0),
    "wallet": (0.42, 0.24, 0.10),
    "keys": (0.85, 0.82, 0.70),
    "bat": (0.07, 0.07, 0.08),  # a black alloy bat
    "toy": (0.12, 0.12, 0.12),
    "orange_tip": (1.0, 0.40, 0.0),
    "zone": (0.15, 0.15, 0.15),
    "bullet": (0.9, 0.1, 0.1),
}


# Held objects, true scale, in the hand's frame (the arm hanging: -Z along the fingers, +X
# forward, +Y to the subject's left), from the grip: (centre, half extents, colour, emissive).
# Sizes: a 6.1 in phone (147 x 72 x 8 mm), a bifold wallet (11 x 9 x 2 cm), a 4 in kitchen
# knife blade, a 33 in baseball bat (2.6 in barrel), a compact 9 mm pistol (180 x 130 x 30 mm),
# a carbine (0.86 m), a key ring (chosen common sizes).
HeldPart = tuple[
    tuple[float, float, float], tuple[float, float, float], str | tuple[float, float, float], bool
]
HELD_OBJECTS: dict[str, list[HeldPart]] = {
    "phone": [
        ((0.05, 0.0, -0.02), (0.004, 0.036, 0.0735), "phone", False),
        ((0.0545, 0.0, -0.02), (0.0006, 0.033, 0.068), "screen", True),
    ],
    "wallet": [((0.056, 0.0, -0.01), (0.01, 0.045, 0.055), "wallet", False)],
    "keys": [
        ((0.048, 0.0, -0.03), (0.002, 0.015, 0.015), "keys", False),
        ((0.048, 0.0, -0.07), (0.0015, 0.011, 0.03), "keys", False),
        ((0.048, 0.012, -0.065), (0.0015, 0.009, 0.026), "keys", False),
    ],
    "knife": [
        ((0.0, 0.0, 0.0), (0.012, 0.01, 0.055), "weapon", False),
        ((0.0, 0.0, -0.105), (0.001, 0.013, 0.051), "knife", False),  # the flat faces out
    ],
    "bat": [((0.0, 0.0, -0.29), (0.017, 0.017, 0.42), "bat", False)],  # its end on the floor
    "handgun": [
        ((0.0, 0.0, 0.0), (0.018, 0.015, 0.055), "gun", False),  # grip in the fist
        ((0.07, 0.0, 0.05), (0.09, 0.015, 0.018), "gun", False),  # slide, muzzle forward
    ],
    "toy_gun": [
        ((0.0, 0.0, 0.0), (0.018, 0.015, 0.055), "toy", False),
        ((0.07, 0.0, 0.05), (0.09, 0.015, 0.018), "toy", False),
        ((0.166, 0.0, 0.05), (0.006, 0.0155, 0.0185), "orange_tip", False),
    ],
    # The officer's drawn weapons (range.review.officer): the muzzle along the fingers, so the
    # bore runs along the arm held out to aim (+X, the back of the hand, is then up): a duty
    # pistol (200 mm slide, black) and a TASER (yellow body, black cartridge face).
    "officer_pistol": [
        ((0.0, 0.0, -0.03), (0.05, 0.014, 0.016), "gun", False),  # grip in the fist
        ((0.06, 0.0, -0.07), (0.017, 0.014, 0.1), "gun", False),  # slide, muzzle ahead
    ],
    "officer_taser": [
        ((0.0, 0.0, -0.03), (0.05, 0.016, 0.02), "taser", False),
        ((0.065, 0.0, -0.07), (0.025, 0.02, 0.1), "taser", False),
        ((0.065, 0.0, -0.176), (0.024, 0.019, 0.006), "weapon", False),  # cartridge face
    ],
    "rifle": [
        ((0.0, 0.0, 0.0), (0.02, 0.015, 0.05), "gun", False),
        ((0.2, 0.0, 0.06), (0.43, 0.022, 0.035), "gun", False),
        ((0.12, 0.0, 0.0), (0.03, 0.012, 0.07), "gun", False),  # magazine
    ],
}


class RenderUnavailableError(RuntimeError):
    """No OpenGL: said in one line, with the package to install."""


class RenderSizeError(ValueError):
    """A picture larger than the OpenGL context renders: said in one line, naming the limit."""


# A frame is drawn into a colour and a depth buffer (8 bytes a pixel) and read back into
# memory: beyond this many pixels (8192x8192, 512 MiB of buffers) a frame is refused however
# large the GL's own limits are (docs/rendering.md).
MAX_PIXELS = 8192 * 8192


def check_size(width: int, height: int, context: Any = None) -> None:
    """Refuse a picture of `width` x `height` that cannot be rendered: more than MAX_PIXELS,
    or, with `context`, wider or taller than its GL_MAX_RENDERBUFFER_SIZE or
    GL_MAX_VIEWPORT_DIMS (a framebuffer that size is never complete). RenderSizeError in one
    line naming the limit."""
    asked = f"--size {width}x{height}"
    if width * height > MAX_PIXELS:
        raise RenderSizeError(
            f"{asked}: at most {MAX_PIXELS:,} pixels a frame (8192x8192; 8 bytes a pixel)"
        )
    if context is None:
        return
    info = context.info
    renderbuffer = int(info.get("GL_MAX_RENDERBUFFER_SIZE", 0)) or None
    viewport = info.get("GL_MAX_VIEWPORT_DIMS")
    limits: list[tuple[int, int, str]] = []
    if renderbuffer is not None:
        limits.append((renderbuffer, renderbuffer, "GL_MAX_RENDERBUFFER_SIZE"))
    if isinstance(viewport, tuple | list) and len(viewport) == 2:
        limits.append((int(viewport[0]), int(viewport[1]), "GL_MAX_VIEWPORT_DIMS"))
    for max_w, max_h, name in limits:
        if width > max_w or height > max_h:
            raise RenderSizeError(f"{asked}: this OpenGL renders at most {max_w}x{max_h} ({name})")


def headless_context(libegl: str | None = None) -> Any:
    """A standalone OpenGL 3.3+ context through EGL, no display needed (`libegl`: a specific
    libEGL, where Mesa lives somewhere unusual)."""
    try:
        import moderngl
    except ImportError as exc:
        raise RenderUnavailableError(f"moderngl is missing ({exc}): pip install moderngl") from None
    try:
        settings = {"backend": "egl"} | ({"libegl": libegl} if libegl else {})
        # moderngl's stubs type **settings as dicts; they are glcontext's string options.
        return moderngl.create_standalone_context(require=330, **settings)  # type: ignore[arg-type]
    except Exception as exc:  # glcontext raises plain Exceptions when EGL is absent
        raise RenderUnavailableError(
            f"no headless OpenGL ({str(exc).splitlines()[0]}): apt-get install libegl1 libgl1"
            " (Mesa's EGL and drivers)"
        ) from None


_VERTEX = """
#version 330
uniform mat4 mvp;
in vec3 in_position;
in vec3 in_normal;
in vec3 in_colour;
out vec3 colour;
out vec3 normal;
out vec3 world;
void main() {
    gl_Position = mvp * vec4(in_position, 1.0);
    colour = in_colour;
    normal = in_normal;
    world = in_position;
}
"""
# Subjects drawn from their segments' rest meshes, uploaded once, moved by one matrix per
# segment (a uniform array): a new pose changes 17 matrices, never a buffer.
_SKINNED_VERTEX = """
#version 330
uniform mat4 mvp;
uniform mat4 bones[17];
uniform vec3 tint;
in vec3 in_position;
in vec3 in_normal;
in vec3 in_colour;
in float in_bone;
out vec3 colour;
out vec3 normal;
out vec3 world;
void main() {
    mat4 bone = bones[int(in_bone + 0.5)];
    vec4 p = bone * vec4(in_position, 1.0);
    gl_Position = mvp * p;
    colour = in_colour.r < 0.0 ? tint : in_colour;
    normal = mat3(bone) * in_normal;
    world = p.xyz;
}
"""
# Subjects that share a mesh drawn in one instanced call: every rig's 17 bone matrices (4
# columns each) and its tint are one row of a float texture (texel 68: the tint), the row
# `base + gl_InstanceID`. A texture, not a uniform block: GL 3.3 guarantees a 16 KiB block
# (15 rigs) and Mesa llvmpipe gives 64 KiB (59 rigs); a texture row per rig has no such cap.
_RIG_TEXELS = 17 * 4 + 1
_INSTANCED_VERTEX = """
#version 330
uniform mat4 mvp;
uniform sampler2D rigs;
uniform int base;
in vec3 in_position;
in vec3 in_normal;
in vec3 in_colour;
in float in_bone;
out vec3 colour;
out vec3 normal;
out vec3 world;
void main() {
    int row = base + gl_InstanceID;
    int c = 4 * int(in_bone + 0.5);
    mat4 bone = mat4(texelFetch(rigs, ivec2(c, row), 0),
                     texelFetch(rigs, ivec2(c + 1, row), 0),
                     texelFetch(rigs, ivec2(c + 2, row), 0),
                     texelFetch(rigs, ivec2(c + 3, row), 0));
    vec4 p = bone * vec4(in_position, 1.0);
    gl_Position = mvp * p;
    colour = in_colour.r < 0.0 ? texelFetch(rigs, ivec2(68, row), 0).rgb : in_colour;
    normal = mat3(bone) * in_normal;
    world = p.xyz;
}
"""
# Lambert sun and ambient sky; a cone light (a flashlight or weapon light) with inverse-square
# fall-off; a zero normal marks an emissive surface (a phone's lit screen), drawn unlit.
_FRAGMENT = """
#version 330
uniform vec3 sun_dir;
uniform float ambient;
uniform float sun;
uniform vec3 cone_pos;
uniform vec3 cone_dir;
uniform float cone_cos;
uniform float cone_intensity;
in vec3 colour;
in vec3 normal;
in vec3 world;
out vec4 frag;
void main() {
    if (length(normal) < 0.5) { frag = vec4(colour, 1.0); return; }
    vec3 n = normalize(normal);
    float light = ambient + sun * max(dot(n, sun_dir), 0.0);
    vec3 to_p = world - cone_pos;
    float d = length(to_p);
    vec3 dir = to_p / max(d, 1e-6);
    if (cone_intensity > 0.0 && dot(dir, cone_dir) > cone_cos) {
        float edge = smoothstep(cone_cos, mix(cone_cos, 1.0, 0.3), dot(dir, cone_dir));
        light += cone_intensity * edge * max(dot(n, -dir), 0.0) / max(d * d, 0.25);
    }
    frag = vec4(min(colour * light, vec3(1.0)), 1.0);
}
"""


@dataclass(frozen=True, slots=True)
class Lighting:
    """A scene's light: sky colour (the clear colour), ambient and sun (Lambert) factors, and
    whether a cone light (flashlight / weapon light) is expected."""

    name: str
    sky: tuple[float, float, float]
    ambient: float
    sun: float
    sun_dir: tuple[float, float, float] = (-0.4, 0.3, 0.85)


# Day keeps the original look (0.55 + 0.45 Lambert). Dusk and night are chosen for a visible
# fall of light; night leaves a subject readable only in a cone light.
LIGHTING = {
    "day": Lighting("day", SKY, 0.55, 0.45),
    "dusk": Lighting("dusk", (0.30, 0.24, 0.30), 0.22, 0.18, (-0.9, 0.2, 0.25)),
    "night": Lighting("night", (0.015, 0.015, 0.03), 0.025, 0.0),
}


@dataclass(frozen=True, slots=True)
class ConeLight:
    """A flashlight or weapon-mounted light: where it is, where it points (the weapon's bore),
    its half-angle and its intensity (lit colour at 1 m on a square-on surface)."""

    position_m: tuple[float, float, float]
    direction: tuple[float, float, float]
    half_angle_deg: float = 12.0
    intensity: float = 20.0

    @staticmethod
    def on_weapon(muzzle: Pose, half_angle_deg: float = 12.0, intensity: float = 20.0) -> ConeLight:
        """A weapon light under the bore, pointing along it."""
        rot = muzzle.rotation()
        pos = np.asarray(muzzle.position_m) - rot[:, 2] * 0.04
        bore = rot[:, 0]
        return ConeLight(
            (float(pos[0]), float(pos[1]), float(pos[2])),
            (float(bore[0]), float(bore[1]), float(bore[2])),
            half_angle_deg,
            intensity,
        )


# The lightings in which the officer's weapon-mounted light is on (a cone following the weapon
# in the headset; in a replay, which logs no weapon pose between shots, from the officer's chest
# toward the first subject).
OFFICER_LIGHT = frozenset({"dusk", "night"})
OFFICER_LIGHT_HEIGHT_M = 1.35  # a weapon held at the chest, for a replay


# The 6 faces of a unit box: outward normal and 4 corners (counter-clockwise seen from outside).
_FACES = [
    ((1, 0, 0), [(1, -1, -1), (1, 1, -1), (1, 1, 1), (1, -1, 1)]),
    ((-1, 0, 0), [(-1, 1, -1), (-1, -1, -1), (-1, -1, 1), (-1, 1, 1)]),
    ((0, 1, 0), [(1, 1, -1), (-1, 1, -1), (-1, 1, 1), (1, 1, 1)]),
    ((0, -1, 0), [(-1, -1, -1), (1, -1, -1), (1, -1, 1), (-1, -1, 1)]),
    ((0, 0, 1), [(-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)]),
    ((0, 0, -1), [(-1, 1, -1), (1, 1, -1), (1, -1, -1), (-1, -1, -1)]),
]


@dataclass
class Scene:
    """Triangles with a normal and a colour each, in the physics frame."""

    _vertices: list[F32] = field(default_factory=list)

    def box(
        self,
        centre: NDArray[np.float64] | tuple[float, float, float],
        half: tuple[float, float, float],
        colour: tuple[float, float, float],
        rotation: NDArray[np.float64] | None = None,
        emissive: bool = False,
    ) -> None:
        """A box; `emissive` draws it unlit (a lit screen)."""
        rot = np.eye(3) if rotation is None else rotation
        c, h = np.asarray(centre, dtype=float), np.asarray(half, dtype=float)
        rows = []
        for normal, corners in _FACES:
            n = np.zeros(3) if emissive else rot @ np.asarray(normal, dtype=float)
            pts = [c + rot @ (np.asarray(k, dtype=float) * h) for k in corners]
            for i in (0, 1, 2, 0, 2, 3):
                rows.append([*pts[i], *n, *colour])
        self._vertices.append(np.asarray(rows, dtype=np.float32))

    def mesh(
        self,
        vertices: NDArray[np.float64],
        faces: NDArray[np.int64],
        colour: tuple[float, float, float],
    ) -> None:
        """Triangles `faces` (F, 3) over `vertices` (V, 3), flat-shaded."""
        tri = vertices[faces]  # (F, 3, 3)
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
        rows = np.empty((len(faces), 3, 9), dtype=np.float32)
        rows[:, :, 0:3] = tri
        rows[:, :, 3:6] = normal[:, None, :]
        rows[:, :, 6:9] = colour
        self._vertices.append(rows.reshape(-1, 9))

    def subject(
        self,
        body: SubjectBody,
        feet: tuple[float, float, float],
        yaw_rad: float,
        colour: tuple[float, float, float] = COLOURS["subject"],
        pose: HumanPose | None = None,
    ) -> None:
        """The subject's segments, posed exactly as its collision hulls in the physics world
        (the same vertices: what is drawn is what is hit)."""
        rot = quat_to_matrix(yaw_quat(yaw_rad))
        skeleton = body.skeleton()
        posed = body.posed(pose)
        skin = SKIN if not body.child else SKIN_CHILD
        for seg, verts in zip(skeleton.segments, posed_vertices(skeleton, posed), strict=True):
            world = np.asarray(feet) + verts @ rot.T
            bare = seg.name in ("head", "neck") or seg.name.startswith("hand")
            self.mesh(world, seg.faces, skin if bare else colour)

    def held(
        self,
        body: SubjectBody,
        feet: tuple[float, float, float],
        yaw_rad: float,
        held_object: str,
        pose: HumanPose | None = None,
        orange_tip: bool = True,
    ) -> None:
        """What the subject holds in its right hand, true scale, turned with the hand (its
        long axis along the fingers, a phone's screen and a gun's muzzle facing the way the
        palm's back does when the arm hangs). `orange_tip`: a toy gun's blaze orange muzzle."""
        parts = HELD_OBJECTS.get(held_object)
        if parts is None:
            return
        yaw = quat_to_matrix(yaw_quat(yaw_rad))
        skeleton = body.skeleton()
        posed = body.posed(pose)
        hand = next(s for s in skeleton.segments if s.name == "hand_r")
        i = hand.joint
        rot = yaw @ posed.rotation[i]
        # The grip: two thirds down the hand, at the front of the fist.
        grip_rest = hand.start + (hand.end - hand.start) * 0.55
        grip = np.asarray(feet) + yaw @ (
            posed.position[i] + posed.rotation[i] @ (grip_rest - skeleton.rest[i])
        )
        for centre, half, colour, emissive in parts:
            if colour == "orange_tip" and not orange_tip:
                continue
            rgb = COLOURS[colour] if isinstance(colour, str) else colour
            self.box(grip + rot @ np.asarray(centre), half, rgb, rot, emissive=emissive)

    def weapon(self, muzzle: Pose, kind: str) -> None:
        """A simple pistol or TASER shape behind the muzzle, along the bore."""
        rot = muzzle.rotation()
        colour = COLOURS["taser" if kind == "taser" else "weapon"]
        slide = np.asarray(muzzle.position_m) - rot[:, 0] * 0.09
        self.box(slide, (0.09, 0.014, 0.02), colour, rot)
        grip = slide - rot[:, 0] * 0.05 - rot[:, 2] * 0.06
        self.box(grip, (0.025, 0.013, 0.05), colour, rot)

    def setting(self, place: Place) -> None:
        """Where a drill or a course happens (its `[scene]`, drills.schema.Scene): the lane,
        its cover boxes and its props, as the physics world has them. Its `lighting` is the
        renderer's (`Renderer.lighting = LIGHTING[place.lighting]`)."""
        self.lane(place.lane_length_ft * FT_M, place.lane_width_ft * FT_M)
        for c in place.cover:
            self.box(
                (c.x_ft * FT_M, c.y_ft * FT_M, c.height_ft * FT_M / 2),
                (c.depth_ft * FT_M / 2, c.width_ft * FT_M / 2, c.height_ft * FT_M / 2),
                COLOURS["cover"],
            )
        self.prop(place.prop_parts())

    def prop(self, parts: list[PropPart]) -> None:
        """A scene prop's boxes (physics.props), exactly the PyBullet boxes, painted by
        material: cover and concealment read as what they are (an engine block under a
        bonnet, glass, drywall)."""
        for part in parts:
            self.box(part.centre, part.half, MATERIALS[part.material], part.rotation())

    def paper_target(self, target: PaperTarget, centre: tuple[float, float, float]) -> None:
        """A paper target facing the firing line, with its scoring zones outlined."""
        w, h = target.width_in * IN_M, target.height_in * IN_M
        self.box(
            (centre[0] + 0.0025, centre[1], centre[2]), (0.0025, w / 2, h / 2), COLOURS["target"]
        )
        for zone in target.zones:
            for shape in zone.shapes:
                self._outline(shape, centre)

    def _outline(self, shape: Ellipse | Rect, centre: tuple[float, float, float]) -> None:
        # 48 short bars round the shape, a hair in front of the paper.
        if isinstance(shape, Rect):
            hw, hh = shape.width / 2, shape.height / 2
            corners = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
            points = []
            for (u0, v0), (u1, v1) in zip(corners, corners[1:] + corners[:1], strict=True):
                points += [(u0 + (u1 - u0) * k / 12, v0 + (v1 - v0) * k / 12) for k in range(12)]
        else:
            points = [
                (shape.ru * math.cos(a), shape.rv * math.sin(a))
                for a in np.linspace(0, 2 * math.pi, 48, endpoint=False)
            ]

        def world(u: float, v: float) -> tuple[float, float, float]:
            return (
                centre[0] - 0.001,
                centre[1] - (shape.cu + u) * IN_M,
                centre[2] + (shape.cv + v) * IN_M,
            )

        for a, b in zip(points, points[1:] + points[:1], strict=True):
            self.path(world(*a), world(*b), COLOURS["zone"], 0.0015)

    def lane(self, length_m: float, width_m: float) -> None:
        self.box(
            (length_m / 2, 0.0, -0.05),
            (length_m / 2 + 2.0, width_m / 2 + 1.0, 0.05),
            COLOURS["floor"],
        )
        self.box((length_m + 0.5, 0.0, 2.5), (0.5, width_m / 2, 2.5), COLOURS["backstop"])
        for side in (-1.0, 1.0):
            self.box(
                (length_m / 2, side * (width_m / 2 + 0.25), 2.5),
                (length_m / 2 + 1.0, 0.25, 2.5),
                COLOURS["wall"],
            )

    def marker(
        self,
        point: tuple[float, float, float],
        colour: tuple[float, float, float],
        size_m: float = 0.02,
    ) -> None:
        self.box(point, (size_m, size_m, size_m), colour)

    def path(
        self,
        start: tuple[float, float, float],
        end: tuple[float, float, float],
        colour: tuple[float, float, float],
        width_m: float = 0.006,
        emissive: bool = False,
    ) -> None:
        """A thin bar from start to end, `width_m` its half-width: a bullet's path or a probe's
        wire; `emissive` draws it unlit."""
        a, b = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
        length = float(np.linalg.norm(b - a))
        if length == 0:
            return
        from physics.pose import look_rotation

        rot = quat_to_matrix(look_rotation(b - a))
        self.box((a + b) / 2, (length / 2, width_m, width_m), colour, rot, emissive)

    def vertices(self) -> F32:
        if not self._vertices:
            return np.zeros((0, 9), dtype=np.float32)
        return np.concatenate(self._vertices)


def view_matrix(camera: Pose) -> NDArray[np.float64]:
    """World (physics frame) to OpenGL eye space for a camera looking along its +X, +Z up."""
    rot = camera.rotation()
    forward, left, up = rot[:, 0], rot[:, 1], rot[:, 2]
    # OpenGL's eye space: x right (= -left), y up, z backward (= -forward).
    basis = np.stack([-left, up, -forward])
    view = np.eye(4)
    view[:3, :3] = basis
    view[:3, 3] = -basis @ np.asarray(camera.position_m)
    return view


def frustum(
    tan_left: float,
    tan_right: float,
    tan_up: float,
    tan_down: float,
    near: float = 0.05,
    far: float = 200.0,
) -> NDArray[np.float64]:
    """An off-axis projection from the tangents of a view's four half-angles (left and down
    negative), as OpenXR gives a headset eye's field of view."""
    w, h = tan_right - tan_left, tan_up - tan_down
    return np.array(
        [
            [2 / w, 0, (tan_right + tan_left) / w, 0],
            [0, 2 / h, (tan_up + tan_down) / h, 0],
            [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
            [0, 0, -1, 0],
        ]
    )


def view_projection(
    camera: Pose, fov_deg: float, aspect: float, near: float = 0.05, far: float = 200.0
) -> NDArray[np.float64]:
    """World to clip space for a symmetric field of view `fov_deg` high."""
    t = math.tan(math.radians(fov_deg) / 2)
    return np.asarray(frustum(-t * aspect, t * aspect, t, -t, near, far) @ view_matrix(camera))


def eye_poses(head: Pose, ipd_m: float) -> tuple[Pose, Pose]:
    """Left and right eyes: the head pose moved half the IPD along its left axis each way."""
    offset = head.rotation()[:, 1] * (ipd_m / 2)
    eyes = []
    for sign in (1.0, -1.0):
        x, y, z = (float(v) for v in np.asarray(head.position_m) + sign * offset)
        eyes.append(Pose((x, y, z), head.orientation, head.time_s, head.valid, head.tracked))
    return eyes[0], eyes[1]


@dataclass
class _Rig:
    body: SubjectBody
    mesh: tuple[int, str, bool, bool]
    colour: tuple[float, float, float]
    bones: NDArray[np.float32]


def _held_in_hand(skeleton: Skeleton, held_object: str, orange_tip: bool) -> F32:
    """(V, 9) triangles of a held object in the right wrist's rest frame."""
    parts = HELD_OBJECTS.get(held_object)
    if parts is None:
        return np.zeros((0, 9), dtype=np.float32)
    hand = next(s for s in skeleton.segments if s.name == "hand_r")
    grip = hand.start + (hand.end - hand.start) * 0.55 - skeleton.rest[hand.joint]
    scene = Scene()
    for centre, half, colour, emissive in parts:
        if colour == "orange_tip" and not orange_tip:
            continue
        rgb = COLOURS[colour] if isinstance(colour, str) else colour
        scene.box(grip + np.asarray(centre), half, rgb, emissive=emissive)
    return scene.vertices()


class Renderer:
    """Render scenes to RGB images with one context; close it (or use `with`). Static
    geometry comes from `load(scene)`; subjects added with `add_subject` are posed by
    transforms each frame."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        context: Any = None,
        samples: int = 0,
        instanced: bool = True,
    ) -> None:
        """`instanced`: subjects that share a mesh in one draw call (bones from a texture);
        False draws one call per subject with its bones in a uniform array (the path before,
        kept as the benchmark's baseline and the tests' reference picture)."""
        self.width, self.height = width, height
        check_size(width, height)
        self.ctx = context if context is not None else headless_context()
        self._own = context is None
        try:
            check_size(width, height, self.ctx)
        except RenderSizeError:
            if self._own:
                self.ctx.release()
            raise
        self.program = self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        self.fbo = self.ctx.simple_framebuffer((width, height), samples=samples)
        self.resolve = self.ctx.simple_framebuffer((width, height)) if samples else self.fbo
        self._vao: Any = None
        self._vbo: Any = None
        self._count = 0
        self.lighting = LIGHTING["day"]
        self.cone: ConeLight | None = None
        self.skinned = self.ctx.program(vertex_shader=_SKINNED_VERTEX, fragment_shader=_FRAGMENT)
        # Per skeleton (by identity: skeletons are cached per build) and held object: the
        # skeleton (kept alive), vbo, vao, vertex count.
        self._meshes: dict[tuple[int, str, bool, bool], tuple[Skeleton, Any, Any, int]] = {}
        self._rigs: dict[str, _Rig] = {}
        self.instanced = instanced
        self.skinned_instanced = self.ctx.program(
            vertex_shader=_INSTANCED_VERTEX, fragment_shader=_FRAGMENT
        )
        self.skinned_instanced["rigs"].value = 0
        # Per mesh: a vao over the same vbo for the instanced program.
        self._instanced_vaos: dict[tuple[int, str, bool, bool], Any] = {}
        self._rig_texture: Any = None  # rows grown by doubling as rigs are added
        # Rigid objects (the replica in the officer's hand): vbo, vao, vertex count, and the
        # 4x4 placing them in the world, changed by `pose_prop` with no buffer touched.
        self._props: dict[str, tuple[Any, Any, int, NDArray[np.float32]]] = {}

    def load(self, scene: Scene) -> None:
        """Upload a scene once; render it from as many cameras as needed."""
        data = scene.vertices()
        if self._vbo is not None:
            self._vao.release()
            self._vbo.release()
            self._vbo = self._vao = None
        self._count = 0
        if not len(data):
            return  # an empty scene draws the sky only; OpenGL has no empty buffer
        self._vbo = self.ctx.buffer(data.tobytes())
        self._vao = self.ctx.vertex_array(
            self.program, [(self._vbo, "3f 3f 3f", "in_position", "in_normal", "in_colour")]
        )
        self._count = len(data)

    def add_subject(
        self,
        key: str,
        body: SubjectBody,
        colour: tuple[float, float, float] = COLOURS["subject"],
        held_object: str = "none",
        orange_tip: bool = True,
    ) -> None:
        """A subject drawn from its segment meshes and what it holds (on the hand's bone),
        uploaded once per build and object (subjects alike share them); place and pose it
        with `pose_subject`. Call again only when what it holds changes."""
        skeleton = body.skeleton()
        mesh_key = (id(skeleton), held_object, orange_tip, body.child)
        if mesh_key not in self._meshes:
            rows = []
            for k, seg in enumerate(skeleton.segments):
                local = seg.vertices - skeleton.rest[seg.joint]
                tri = local[seg.faces]
                normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
                normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
                bare = seg.name in ("head", "neck") or seg.name.startswith("hand")
                # A negative red marks clothing: the subject's own tint, a uniform.
                rgb = (SKIN_CHILD if body.child else SKIN) if bare else (-1.0, 0.0, 0.0)
                block = np.empty((len(tri), 3, 10), dtype=np.float32)
                block[:, :, 0:3] = tri
                block[:, :, 3:6] = normal[:, None, :]
                block[:, :, 6:9] = rgb
                block[:, :, 9] = k
                rows.append(block.reshape(-1, 10))
            held = _held_in_hand(skeleton, held_object, orange_tip)
            if len(held):
                hand = next(s for s in skeleton.segments if s.name == "hand_r").joint
                rows.append(np.hstack([held, np.full((len(held), 1), hand, dtype=np.float32)]))
            data = np.concatenate(rows)
            vbo = self.ctx.buffer(data.tobytes())
            vao = self.ctx.vertex_array(
                self.skinned,
                [(vbo, "3f 3f 3f 1f", "in_position", "in_normal", "in_colour", "in_bone")],
            )
            self._meshes[mesh_key] = (skeleton, vbo, vao, len(data))
            self._instanced_vaos[mesh_key] = self.ctx.vertex_array(
                self.skinned_instanced,
                [(vbo, "3f 3f 3f 1f", "in_position", "in_normal", "in_colour", "in_bone")],
            )
        old = self._rigs.get(key)
        bones = old.bones if old is not None else np.tile(np.eye(4, dtype="f4"), (17, 1, 1))
        self._rigs[key] = _Rig(body, mesh_key, colour, bones)

    def pose_subject(
        self,
        key: str,
        feet: tuple[float, float, float],
        yaw_rad: float,
        pose: HumanPose | None = None,
    ) -> None:
        """Move a subject added with `add_subject`: 17 matrices, no buffer touched."""
        rig = self._rigs[key]
        posed = rig.body.posed(pose)
        yaw = quat_to_matrix(yaw_quat(yaw_rad))
        bones = np.zeros((17, 4, 4), dtype="f4")
        bones[:, :3, :3] = yaw @ posed.rotation
        bones[:, :3, 3] = np.asarray(feet) + posed.position @ yaw.T
        bones[:, 3, 3] = 1.0
        rig.bones = bones

    def remove_subject(self, key: str) -> None:
        self._rigs.pop(key, None)

    @property
    def subjects(self) -> frozenset[str]:
        """The keys of the subjects added with `add_subject`."""
        return frozenset(self._rigs)

    def segment_frame(self, key: str, segment: str) -> NDArray[np.float32]:
        """The 4x4 world frame of a subject's segment as last posed (its bone: a point at
        offset o from the segment's joint, in the segment's frame, is drawn at M @ (o, 1))."""
        return np.array(self._rigs[key].bones[SEGMENTS.index(segment)])

    def add_prop(self, key: str, scene: Scene) -> None:
        """A rigid object built in its own frame (`scene`, e.g. `Scene.weapon` at the origin),
        uploaded once; `pose_prop` places it each frame. Adding a key again replaces it."""
        self.remove_prop(key)
        data = scene.vertices()
        if not len(data):
            return
        rows = np.hstack([data, np.zeros((len(data), 1), dtype=np.float32)])  # all on bone 0
        vbo = self.ctx.buffer(np.ascontiguousarray(rows).tobytes())
        vao = self.ctx.vertex_array(
            self.skinned, [(vbo, "3f 3f 3f 1f", "in_position", "in_normal", "in_colour", "in_bone")]
        )
        self._props[key] = (vbo, vao, len(rows), np.eye(4, dtype="f4"))

    def pose_prop(self, key: str, pose: Pose) -> None:
        """Place a prop: its frame's origin at `pose.position_m`, its axes turned by the pose
        (a replica's +X along the bore). One matrix, no buffer touched."""
        vbo, vao, count, _ = self._props[key]
        matrix = np.eye(4, dtype="f4")
        matrix[:3, :3] = pose.rotation()
        matrix[:3, 3] = pose.position_m
        self._props[key] = (vbo, vao, count, matrix)

    def place_prop(self, key: str, matrix: NDArray[np.float32]) -> None:
        """Place a prop by any 4x4 (column-vector) matrix, scale included: a wire stretched
        between two points (range/review/effects.py). No buffer touched."""
        vbo, vao, count, _ = self._props[key]
        self._props[key] = (vbo, vao, count, np.asarray(matrix, dtype="f4"))

    def remove_prop(self, key: str) -> None:
        old = self._props.pop(key, None)
        if old is not None:
            old[1].release()
            old[0].release()

    def clear_posed(self) -> None:
        """Remove every subject and prop: the next moment (another shot's image) starts bare."""
        self._rigs.clear()
        for key in list(self._props):
            self.remove_prop(key)

    def draw(self, framebuffer: Any, mvp: NDArray[np.float64]) -> None:
        """Draw the loaded scene into any framebuffer: this renderer's own, or a headset
        swapchain image's."""
        import moderngl

        framebuffer.use()
        self.ctx.enable(moderngl.DEPTH_TEST)
        light = self.lighting
        framebuffer.clear(*light.sky, 1.0, depth=1.0)
        sun = np.asarray(light.sun_dir) / np.linalg.norm(light.sun_dir)
        cone = self.cone
        for program in (self.program, self.skinned, self.skinned_instanced):
            program["mvp"].write(mvp.T.astype("f4").tobytes())
            program["sun_dir"].value = tuple(float(v) for v in sun)
            program["ambient"].value = light.ambient
            program["sun"].value = light.sun
            program["cone_intensity"].value = 0.0 if cone is None else cone.intensity
            if cone is not None:
                d = np.asarray(cone.direction) / np.linalg.norm(cone.direction)
                program["cone_pos"].value = cone.position_m
                program["cone_dir"].value = tuple(float(v) for v in d)
                program["cone_cos"].value = math.cos(math.radians(cone.half_angle_deg))
        if self._vao is not None and self._count:
            self._vao.render(vertices=self._count)
        if self.instanced:
            self._draw_instanced()
        else:
            for rig in self._rigs.values():
                _, _, vao, count = self._meshes[rig.mesh]
                # Column-major for GLSL: each bone's transpose, in order.
                bones = np.ascontiguousarray(rig.bones.transpose(0, 2, 1))
                self.skinned["bones"].write(bones.tobytes())
                self.skinned["tint"].value = rig.colour
                vao.render(vertices=count)
        for _, vao, count, matrix in self._props.values():
            bones = np.tile(np.eye(4, dtype="f4"), (17, 1, 1))
            bones[0] = matrix.T
            self.skinned["bones"].write(np.ascontiguousarray(bones).tobytes())
            vao.render(vertices=count)

    def _draw_instanced(self) -> None:
        """All subjects in one draw call per distinct mesh: their bones and tints written as
        one texture upload (a row each, grouped by mesh), then each group drawn with
        `instances` = its size from its first row."""
        import moderngl

        if not self._rigs:
            return
        groups: dict[tuple[int, str, bool, bool], list[_Rig]] = {}
        for rig in self._rigs.values():
            groups.setdefault(rig.mesh, []).append(rig)
        rigs = [rig for group in groups.values() for rig in group]
        rows = np.zeros((len(rigs), _RIG_TEXELS, 4), dtype="f4")
        # Column-major for GLSL: each bone's transpose is its 4 columns, in order.
        rows[:, :68] = (
            np.stack([rig.bones for rig in rigs]).transpose(0, 1, 3, 2).reshape(-1, 68, 4)
        )
        rows[:, 68, :3] = [rig.colour for rig in rigs]
        texture = self._rig_texture
        if texture is None or texture.height < len(rigs):
            if texture is not None:
                texture.release()
            height = max(32, 1 << (len(rigs) - 1).bit_length())
            texture = self.ctx.texture((_RIG_TEXELS, height), 4, dtype="f4")
            texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._rig_texture = texture
        texture.write(rows.tobytes(), viewport=(0, 0, _RIG_TEXELS, len(rigs)))
        texture.use(location=0)
        base = 0
        for mesh_key, group in groups.items():
            count = self._meshes[mesh_key][3]
            self.skinned_instanced["base"].value = base
            self._instanced_vaos[mesh_key].render(vertices=count, instances=len(group))
            base += len(group)

    def render(self, camera: Pose, fov_deg: float = 70.0) -> NDArray[np.uint8]:
        """An RGB image (height, width, 3), row 0 at the top."""
        self.draw(self.fbo, view_projection(camera, fov_deg, self.width / self.height))
        if self.resolve is not self.fbo:
            self.ctx.copy_framebuffer(self.resolve, self.fbo)
        raw = self.resolve.read(components=3)
        image = np.frombuffer(raw, dtype=np.uint8).reshape(self.height, self.width, 3)
        return np.ascontiguousarray(image[::-1])

    def render_stereo(
        self, head: Pose, ipd_m: float = 0.063, fov_deg: float = 90.0
    ) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """The left and right eye views of a head pose: the headset's two images."""
        left, right = eye_poses(head, ipd_m)
        return self.render(left, fov_deg), self.render(right, fov_deg)

    def project(
        self, camera: Pose, point: tuple[float, float, float], fov_deg: float = 70.0
    ) -> tuple[float, float] | None:
        """Pixel (x right, y down) where a world point appears, or None behind the camera."""
        clip = view_projection(camera, fov_deg, self.width / self.height) @ np.array([*point, 1.0])
        if clip[3] <= 0:
            return None
        ndc = clip[:3] / clip[3]
        return ((ndc[0] + 1) / 2 * self.width, (1 - ndc[1]) / 2 * self.height)

    def close(self) -> None:
        for key in list(self._props):
            self.remove_prop(key)
        for vao in self._instanced_vaos.values():
            vao.release()
        for _, vbo, vao, _ in self._meshes.values():
            vao.release()
            vbo.release()
        if self._rig_texture is not None:
            self._rig_texture.release()
        self.skinned_instanced.release()
        self.skinned.release()
        for obj in (self._vao, self._vbo, self.fbo, self.program):
            if obj is not None:
                obj.release()
        if self.resolve is not self.fbo:
            self.resolve.release()
        if self._own:
            self.ctx.release()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# Laser colours as the officer sees them: saturated and unlit (a laser dot outshines the scene).
LASER_RGB = {"red": (1.0, 0.08, 0.05), "green": (0.15, 1.0, 0.25)}
LASER_DOT_M = 0.004  # a ~8 mm dot: what a TASER laser makes at duty distances


def draw_laser_dots(
    scene: Scene,
    dots: Sequence[tuple[str, tuple[float, float, float] | None]],
    camera_m: tuple[float, float, float],
    size_m: float = LASER_DOT_M,
) -> None:
    """The laser dots the officer would see: each (colour, point) from `physics.taser.laser_dots`
    and the cartridge's `lasers` (None: the beam lit nothing) as an unlit square `size_m` across,
    lifted 2 mm toward the camera at `camera_m` so the surface it lies on does not hide it."""
    eye = np.asarray(camera_m, dtype=float)
    for colour, point in dots:
        if point is None:
            continue
        p = np.asarray(point, dtype=float)
        toward = (eye - p) / max(float(np.linalg.norm(eye - p)), 1e-9)
        scene.box(p + toward * 0.002, (size_m / 2,) * 3, LASER_RGB[colour], emissive=True)
