"""Where a sound comes from, as a listener's head hears it: the geometry of the run's audio.

The plan-view frame is the engine's: x downrange, y to the officer's left, metres; a yaw of 0
faces downrange and grows to the left. Audio speaks in azimuths: 0 ahead, +90 right, -90 left
(range.voice.speak.place). Kept here, pure and shared, so the engine's `subject_spoke` record and
the soundtrack built from a log later place a sound the same way.
"""

from __future__ import annotations

import math

OFFICER = "officer"  # the listener of a use-of-force drill


def heard_from(
    listener_m: tuple[float, float], listener_yaw_rad: float, source_m: tuple[float, float]
) -> tuple[float, float]:
    """(azimuth_deg, distance_m) of `source_m` from a head at `listener_m` facing
    `listener_yaw_rad`. Azimuth in [-180, 180]: 0 ahead, +90 right. A source at the head itself
    (the listener's own voice) is (0, 0)."""
    dx, dy = source_m[0] - listener_m[0], source_m[1] - listener_m[1]
    distance = math.hypot(dx, dy)
    if distance < 1e-9:
        return 0.0, 0.0
    relative = math.atan2(dy, dx) - listener_yaw_rad  # to the left, radians
    relative = (relative + math.pi) % (2 * math.pi) - math.pi
    azimuth = -math.degrees(relative)
    return (180.0 if azimuth <= -180.0 else azimuth), distance


def facing(frm: tuple[float, float], to: tuple[float, float]) -> float:
    """The yaw of a head at `frm` turned toward `to` (radians, 0 downrange, leftward)."""
    return math.atan2(to[1] - frm[1], to[0] - frm[0])
