"""OpenXR through pyopenxr: the runtime report of `openrange xr check`, and the pose source
that reads a headset, controllers and replica trackers.

OpenXR is Y up; every pose leaves here in the physics frame (`physics.pose.pose_from_openxr`).
A headless session (`XR_MND_headless`) serves when nothing is rendered; there, spaces are
located at a time converted from the monotonic clock (`XR_KHR_convert_timespec_time`) rather
than at a frame's predicted display time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from physics.pose import Pose, pose_from_openxr
from range.clock import MonotonicClock
from range.runs.poses import PoseHistory

# Interaction profiles and the paths of their aim pose, grip pose and trigger.
PROFILES: dict[str, dict[str, str]] = {
    "/interaction_profiles/khr/simple_controller": {
        "aim": "input/aim/pose",
        "grip": "input/grip/pose",
        "trigger": "input/select/click",
    },
    "/interaction_profiles/valve/index_controller": {
        "aim": "input/aim/pose",
        "grip": "input/grip/pose",
        "trigger": "input/trigger/value",
    },
    "/interaction_profiles/oculus/touch_controller": {
        "aim": "input/aim/pose",
        "grip": "input/grip/pose",
        "trigger": "input/trigger/value",
    },
}
# Trackers fixed to replicas: only where the runtime offers the extension (Monado does not, so
# this path is written to the extension's specification and has not run against a runtime).
# A tracker has no aim pose; its grip pose is the puck's, and the armorer's boresight is solved
# relative to it. Its trigger is the replica's, over serial.
TRACKER_PROFILE = "/interaction_profiles/htc/vive_tracker_htcx"
TRACKER_EXTENSION = "XR_HTCX_vive_tracker_interaction"
TRACKER = "tracker"
TRACKER_ROLE = "/user/vive_tracker_htcx/role/handheld_object"
HANDS = ("left", "right")


NO_RUNTIME = (
    "no OpenXR runtime is installed or active: install one (Monado, SteamVR) and make it the"
    " active runtime"
)


class XRUnavailableError(RuntimeError):
    """No OpenXR runtime, or it refused us: said in one line."""


def _xr() -> Any:
    os.environ.setdefault("XR_LOADER_DEBUG", "none")  # the loader's own stderr chatter
    import xr

    return xr


@dataclass(frozen=True, slots=True)
class RuntimeReport:
    runtime: str
    runtime_version: str
    system: str
    extensions: tuple[str, ...]
    profiles: tuple[str, ...]
    headless: bool
    # What the runtime lacks, one named line each: for the headset session
    # (`range.xr.session.missing_for_headset`) and for calibration without a headset.
    missing: tuple[str, ...] = ()


HEADLESS = "XR_MND_headless"
TIMESPEC = "XR_KHR_convert_timespec_time"


def missing_for_headless(extensions: set[str] | tuple[str, ...]) -> list[str]:
    """What a runtime offering `extensions` lacks for the headless pose source (calibration
    and courses without a headset), one named line each."""
    offered = set(extensions)
    return [
        f"no {name} ({why})"
        for name, why in (
            (HEADLESS, "a session with no headset rendered: calibration needs the headset"),
            (TIMESPEC, "poses at a host time: calibration needs the headset"),
        )
        if name not in offered
    ]


def check() -> RuntimeReport:
    """What the installed runtime offers, and what it lacks (`missing`, one named line each);
    XRUnavailableError, in words, when there is no runtime."""
    from range.xr.session import missing_for_headset

    xr = _xr()
    try:
        extensions = tuple(
            e.extension_name.decode() for e in xr.enumerate_instance_extension_properties()
        )
    except xr.exception.RuntimeUnavailableError:
        raise XRUnavailableError(NO_RUNTIME) from None
    missing = tuple(missing_for_headset(extensions) + missing_for_headless(extensions))
    if HEADLESS not in extensions or TIMESPEC not in extensions:
        # No headless session to open: the runtime and system from a bare instance.
        name, version, system = _describe(xr)
        return RuntimeReport(name, version, system, extensions, tuple(PROFILES), False, missing)
    with OpenXRPoses() as source:
        return RuntimeReport(
            source.runtime_name,
            source.runtime_version,
            source.system_name,
            extensions,
            tuple(source.profiles),
            source.headless,
            missing,
        )


def _describe(xr: Any) -> tuple[str, str, str]:
    """The runtime's name and version and the system's name, from an instance with no
    extensions (no session)."""
    instance = xr.create_instance(
        xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo(
                application_name="OpenRange",
                engine_name="openrange",
                api_version=xr.Version(1, 0, 0),
            )
        )
    )
    try:
        props = xr.get_instance_properties(instance)
        v = xr.Version(props.runtime_version)
        try:
            system_id = xr.get_system(
                instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
            )
            system = xr.get_system_properties(instance, system_id).system_name.decode()
        except xr.exception.FormFactorUnavailableError:
            system = "no headset"
        return props.runtime_name.decode(), f"{v.major}.{v.minor}.{v.patch}", system
    finally:
        xr.destroy_instance(instance)


def create_weapon_actions(instance: Any, tracker: bool = False) -> dict[str, Any]:
    """The action set every OpenXR session of ours uses: aim and grip poses and the trigger of
    each hand, with suggested bindings for every profile in PROFILES, and with `tracker` (the
    runtime offers XR_HTCX_vive_tracker_interaction) the pose of a tracker in the handheld-object
    role. The caller attaches it (a headless pose source at once; the headset's frame loop with
    its own)."""
    xr = _xr()
    h: dict[str, Any] = {}
    h["action_set"] = xr.create_action_set(
        instance,
        xr.ActionSetCreateInfo(
            action_set_name="openrange", localized_action_set_name="OpenRange", priority=0
        ),
    )
    h["hands"] = {hand: xr.string_to_path(instance, f"/user/hand/{hand}") for hand in HANDS}
    if tracker:
        h["hands"][TRACKER] = xr.string_to_path(instance, TRACKER_ROLE)
    subpaths = list(h["hands"].values())

    def action(name: str, kind: Any) -> Any:
        return xr.create_action(
            h["action_set"],
            xr.ActionCreateInfo(
                action_type=kind,
                action_name=name,
                localized_action_name=name.title(),
                subaction_paths=subpaths,
            ),
        )

    h["aim"] = action("aim", xr.ActionType.POSE_INPUT)
    h["grip"] = action("grip", xr.ActionType.POSE_INPUT)
    h["trigger"] = action("trigger", xr.ActionType.FLOAT_INPUT)
    for profile, paths in PROFILES.items():
        bindings = [
            xr.ActionSuggestedBinding(
                h[name], xr.string_to_path(instance, f"/user/hand/{hand}/{paths[name]}")
            )
            for name in ("aim", "grip", "trigger")
            for hand in HANDS
        ]
        xr.suggest_interaction_profile_bindings(
            instance,
            xr.InteractionProfileSuggestedBinding(
                interaction_profile=xr.string_to_path(instance, profile),
                suggested_bindings=bindings,
            ),
        )
    if tracker:
        puck = xr.string_to_path(instance, f"{TRACKER_ROLE}/input/grip/pose")
        xr.suggest_interaction_profile_bindings(
            instance,
            xr.InteractionProfileSuggestedBinding(
                interaction_profile=xr.string_to_path(instance, TRACKER_PROFILE),
                suggested_bindings=[
                    xr.ActionSuggestedBinding(h["aim"], puck),
                    xr.ActionSuggestedBinding(h["grip"], puck),
                ],
            ),
        )
    return h


def create_hand_spaces(session: Any, actions: dict[str, Any], hand: str) -> dict[str, Any]:
    """The aim and grip spaces of one hand (the one holding the replica)."""
    xr = _xr()
    return {
        f"{name}_space": xr.create_action_space(
            session,
            xr.ActionSpaceCreateInfo(
                action=actions[name],
                subaction_path=actions["hands"][hand],
                pose_in_action_space=xr.Posef(),
            ),
        )
        for name in ("aim", "grip")
    }


def sync_actions(session: Any, action_set: Any) -> None:
    """Read the controllers' input for this frame. While the session is not focused OpenXR
    gives no input, and poses located from the actions come back invalid (their flags say so)."""
    xr = _xr()
    # Not focused is a success code, which pyopenxr raises.
    with contextlib.suppress(xr.exception.SessionNotFocused):
        xr.sync_actions(
            session,
            xr.ActionsSyncInfo(
                active_action_sets=[
                    xr.ActiveActionSet(action_set=action_set, subaction_path=xr.NULL_PATH)
                ]
            ),
        )


def locate(space: Any, base: Any, at: Any, host_s: float) -> Pose:
    """`space` in `base` at OpenXR time `at`, in the physics frame, stamped `host_s`, with the
    runtime's validity and tracking bits."""
    xr = _xr()
    loc = xr.locate_space(space, base, at)
    flags = loc.location_flags
    valid = bool(flags & xr.SPACE_LOCATION_POSITION_VALID_BIT) and bool(
        flags & xr.SPACE_LOCATION_ORIENTATION_VALID_BIT
    )
    tracked = bool(flags & xr.SPACE_LOCATION_POSITION_TRACKED_BIT) and bool(
        flags & xr.SPACE_LOCATION_ORIENTATION_TRACKED_BIT
    )
    p, q = loc.pose.position, loc.pose.orientation
    return pose_from_openxr(
        (p.x, p.y, p.z), (q.x, q.y, q.z, q.w), host_s, valid=valid, tracked=tracked
    )


@dataclass(slots=True)
class OpenXRPoses:
    """Poses of the head (VIEW space) and of each hand's aim and grip, in the physics frame,
    stamped on the host's monotonic clock, with their validity and tracking flags. `update()`
    reads the runtime once (a frame); `pose(device, t)` answers from the history, like every
    other pose source (`range.poses.PoseSource`)."""

    hand: str = "right"  # "left", "right", or "tracker" (a Vive tracker on the replica)
    # The host timeline the poses are stamped on: the one the serial links stamp events on.
    clock: MonotonicClock = field(default_factory=lambda: MonotonicClock(origin_ns=0))
    runtime_name: str = ""
    runtime_version: str = ""
    system_name: str = ""
    headless: bool = True
    profiles: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    _h: dict[str, Any] = field(default_factory=dict)
    history: dict[str, PoseHistory] = field(default_factory=dict)

    def open(self) -> OpenXRPoses:
        xr = _xr()
        try:
            available = {
                e.extension_name.decode() for e in xr.enumerate_instance_extension_properties()
            }
        except xr.exception.RuntimeUnavailableError:
            raise XRUnavailableError(NO_RUNTIME) from None
        wanted = ["XR_MND_headless", "XR_KHR_convert_timespec_time"]
        if TRACKER_EXTENSION in available:
            wanted.append(TRACKER_EXTENSION)
        missing = [e for e in wanted[:2] if e not in available]
        if missing:
            raise XRUnavailableError(f"the OpenXR runtime lacks {', '.join(missing)}")
        if self.hand == TRACKER and TRACKER_EXTENSION not in available:
            raise XRUnavailableError(
                f"this OpenXR runtime does not offer {TRACKER_EXTENSION} (Monado does not):"
                " track the replica with a controller (--hand left or right)"
            )
        h = self._h
        try:
            h["instance"] = xr.create_instance(
                xr.InstanceCreateInfo(
                    application_info=xr.ApplicationInfo(
                        application_name="OpenRange",
                        application_version=1,
                        engine_name="openrange",
                        engine_version=1,
                        api_version=xr.Version(1, 0, 0),
                    ),
                    enabled_extension_names=wanted,
                )
            )
        except xr.exception.RuntimeUnavailableError:
            raise XRUnavailableError(NO_RUNTIME) from None
        instance = h["instance"]
        props = xr.get_instance_properties(instance)
        self.runtime_name = props.runtime_name.decode()
        v = props.runtime_version
        self.runtime_version = f"{xr.Version(v).major}.{xr.Version(v).minor}.{xr.Version(v).patch}"
        try:
            h["system"] = xr.get_system(
                instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
            )
        except xr.exception.FormFactorUnavailableError:
            raise XRUnavailableError("the OpenXR runtime sees no headset") from None
        self.system_name = xr.get_system_properties(instance, h["system"]).system_name.decode()
        h["session"] = xr.create_session(instance, xr.SessionCreateInfo(system_id=h["system"]))
        self._actions()
        self._spaces()
        pfn = ctypes.cast(
            xr.get_instance_proc_addr(instance, "xrConvertTimespecTimeToTimeKHR"),
            xr.PFN_xrConvertTimespecTimeToTimeKHR,
        )
        h["convert"] = pfn
        return self

    def _actions(self) -> None:
        xr = _xr()
        h = self._h
        h.update(create_weapon_actions(h["instance"], tracker=self.hand == TRACKER))
        self.profiles.extend(PROFILES)
        if self.hand == TRACKER:
            self.profiles.append(TRACKER_PROFILE)
        xr.attach_session_action_sets(
            h["session"], xr.SessionActionSetsAttachInfo(action_sets=[h["action_set"]])
        )

    def _spaces(self) -> None:
        xr = _xr()
        h = self._h
        session = h["session"]
        h["stage"] = xr.create_reference_space(
            session,
            xr.ReferenceSpaceCreateInfo(
                reference_space_type=xr.ReferenceSpaceType.STAGE, pose_in_reference_space=xr.Posef()
            ),
        )
        h["view"] = xr.create_reference_space(
            session,
            xr.ReferenceSpaceCreateInfo(
                reference_space_type=xr.ReferenceSpaceType.VIEW, pose_in_reference_space=xr.Posef()
            ),
        )
        h.update(create_hand_spaces(session, h, self.hand))

    def pump(self, timeout_s: float = 0.0) -> str:
        """Handle the runtime's events (session state changes) for up to `timeout_s`; returns
        the session state."""
        xr = _xr()
        h = self._h
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                event = xr.poll_event(h["instance"])
            except xr.exception.EventUnavailable:
                if time.monotonic() >= deadline:
                    return self.states[-1] if self.states else "UNKNOWN"
                time.sleep(0.005)
                continue
            if xr.StructureType(event.type) == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(
                    ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)
                ).contents
                state = xr.SessionState(changed.state)
                self.states.append(state.name)
                if state == xr.SessionState.READY:
                    xr.begin_session(
                        h["session"],
                        xr.SessionBeginInfo(
                            primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO
                        ),
                    )
                elif state == xr.SessionState.STOPPING:
                    xr.end_session(h["session"])

    def focused(self, timeout_s: float = 10.0) -> OpenXRPoses:
        """Wait for input focus (controllers are read only then), or say why not."""
        if not self.wait_for("FOCUSED", timeout_s):
            raise XRUnavailableError(
                f"the OpenXR session did not get focus (states: {', '.join(self.states)}):"
                " is another application holding the runtime?"
            )
        return self

    def wait_for(self, state: str, timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while state not in self.states and time.monotonic() < deadline:
            self.pump(0.05)
        return state in self.states

    def _now_xr(self) -> Any:
        xr = _xr()
        h = self._h
        host_s = self.clock.now_s()
        ts = self.clock.monotonic_ns(host_s)
        spec = xr.timespec(tv_sec=ts // 1_000_000_000, tv_nsec=ts % 1_000_000_000)
        out = xr.Time()
        result = h["convert"](h["instance"], ctypes.pointer(spec), ctypes.byref(out))
        if result != 0:
            raise XRUnavailableError(f"xrConvertTimespecTimeToTimeKHR failed ({result})")
        return out, host_s

    def poses(self) -> dict[str, Pose]:
        """The head, aim and grip poses now, in the physics frame, on the monotonic clock."""
        h = self._h
        sync_actions(h["session"], h["action_set"])
        at, host_s = self._now_xr()
        return {
            name: locate(space, h["stage"], at, host_s)
            for name, space in (
                ("head", h["view"]),
                ("aim", h["aim_space"]),
                ("grip", h["grip_space"]),
            )
        }

    def update(self) -> dict[str, Pose]:
        """Read the runtime now and keep the poses: the weapon is the aim pose."""
        poses = self.poses()
        for name, pose in poses.items():
            self.history.setdefault(name, PoseHistory()).add(pose)
        return poses

    def pose(self, device: str, t: float) -> Pose:
        name = "aim" if device == "weapon" else device
        if name not in self.history:
            return Pose((0.0, 0.0, 0.0), time_s=t, valid=False, tracked=False)
        return self.history[name].at(t)

    def trigger(self) -> float:
        xr = _xr()
        h = self._h
        state = xr.get_action_state_float(
            h["session"],
            xr.ActionStateGetInfo(action=h["trigger"], subaction_path=h["hands"][self.hand]),
        )
        return float(state.current_state)

    def close(self) -> None:
        xr = _xr()
        h = self._h
        if "session" in h:
            xr.destroy_session(h["session"])
        if "instance" in h:
            xr.destroy_instance(h["instance"])
        h.clear()

    def __enter__(self) -> OpenXRPoses:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
