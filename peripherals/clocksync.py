"""Device clock to host clock, estimated from PING/PONG round trips.

Each round trip gives one sample: the host sent at t0 and received at t1 (host seconds), the
device stamped its PONG at d (device seconds). The device time maps to the host midpoint
(t0 + t1) / 2 with an error of at most (t1 - t0) / 2. A line fitted through the tightest samples
gives the offset and the drift (crystals run +-100 ppm).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SyncSample:
    host_mid_s: float
    device_s: float
    half_rtt_s: float


class ClockSync:
    def __init__(self, window: int = 64) -> None:
        self._samples: deque[SyncSample] = deque(maxlen=window)
        self._slope = 1.0  # device seconds per host second
        self._offset_s = 0.0  # device - slope * host
        self._bound_s = float("inf")

    def add(self, host_sent_s: float, host_received_s: float, device_us: int) -> None:
        mid = (host_sent_s + host_received_s) / 2
        half = (host_received_s - host_sent_s) / 2
        self._samples.append(SyncSample(mid, device_us * 1e-6, half))
        self._fit()

    @property
    def samples(self) -> int:
        return len(self._samples)

    @property
    def error_bound_s(self) -> float:
        """Worst-case error of `to_host` near the samples, in seconds."""
        return self._bound_s

    @property
    def drift_ppm(self) -> float:
        return (self._slope - 1.0) * 1e6

    def _fit(self) -> None:
        samples = list(self._samples)
        best = min(s.half_rtt_s for s in samples)
        # Samples delayed by the OS scheduler are noise; keep the tight ones.
        tight = [s for s in samples if s.half_rtt_s <= 2 * best + 50e-6]
        host = np.array([s.host_mid_s for s in tight])
        device = np.array([s.device_s for s in tight])
        if len(tight) >= 4 and host.max() - host.min() > 0.2:
            h0 = host.mean()
            slope, intercept = np.polyfit(host - h0, device, 1)
            self._slope = float(slope)
            self._offset_s = float(intercept - slope * h0)
            residual = float(np.max(np.abs(device - (self._offset_s + self._slope * host))))
        else:
            self._slope = 1.0
            self._offset_s = float(np.mean(device - host))
            residual = float(np.max(np.abs(device - host - self._offset_s)))
        self._bound_s = max(s.half_rtt_s for s in tight) + residual

    def to_host(self, device_us: int) -> float:
        return (device_us * 1e-6 - self._offset_s) / self._slope
