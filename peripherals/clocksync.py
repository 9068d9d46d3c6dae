"""Device clock to host clock, estimated from PING/PONG round trips.

Each round trip gives NTP's four timestamps: the host sent the PING at t0 and read the PONG at t1
(host seconds); the device read the PING at r and sent the PONG at x (device seconds). The
device's midpoint (r + x) / 2 maps to the host's midpoint (t0 + t1) / 2, with an error of at most
half the time spent on the wire, ((t1 - t0) - (x - r)) / 2. A line fitted through the tightest
samples gives the offset and the drift (crystals run +-100 ppm).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SyncSample:
    host_mid_s: float
    device_s: float
    half_rtt_s: float


# Crystal oscillators are specified to +-100 ppm; allow twice that before calling a fit noise.
MAX_DRIFT = 200e-6


class ClockSync:
    def __init__(self, window: int = 256) -> None:
        self._samples: deque[SyncSample] = deque(maxlen=window)
        self._slope = 1.0  # device seconds per host second
        self._offset_s = 0.0  # device - slope * host
        self._bound_s = float("inf")
        self._stale = False
        self._lock = threading.Lock()  # the reader thread adds; any thread may map a time

    def add(
        self, host_sent_s: float, host_received_s: float, device_rx_us: int, device_tx_us: int
    ) -> None:
        held = max(0.0, (device_tx_us - device_rx_us) * 1e-6)
        wire = max(0.0, host_received_s - host_sent_s - held)
        host_mid = (host_sent_s + host_received_s) / 2
        device_mid = (device_rx_us + device_tx_us) * 0.5e-6
        with self._lock:
            self._samples.append(SyncSample(host_mid, device_mid, wire / 2))
            self._stale = True  # fitted when a time is next mapped, not on every PONG

    @property
    def samples(self) -> int:
        return len(self._samples)

    def latest(self) -> SyncSample | None:
        """The newest sample (a conformance check collects them to time the clock's rate)."""
        with self._lock:
            return self._samples[-1] if self._samples else None

    @property
    def error_bound_s(self) -> float:
        """Worst-case error of `to_host` near the samples, in seconds."""
        self._refresh()
        return self._bound_s

    @property
    def drift_ppm(self) -> float:
        self._refresh()
        return (self._slope - 1.0) * 1e6

    def _refresh(self) -> None:
        with self._lock:
            if self._stale and self._samples:
                self._fit()
                self._stale = False

    def _fit(self) -> None:
        samples = list(self._samples)
        wire = np.array([s.half_rtt_s for s in samples])
        host = np.array([s.host_mid_s for s in samples])
        device = np.array([s.device_s for s in samples])
        # The round trips that spent least time on the wire: the scheduler delayed the others,
        # and more on the way out than back. A quarter of them fix the slope; the tightest
        # twentieth, least skewed, fix the offset. Quantiles, not a margin over the best, so a
        # lucky outlier cannot leave two samples to fit a slope through.
        tight = wire <= np.quantile(wire, 0.25)
        tightest = wire <= np.quantile(wire, 0.05)
        slope = 1.0
        if tight.sum() >= 8 and np.ptp(host[tight]) > 0.5:
            h0 = host[tight].mean()
            slope = float(np.polyfit(host[tight] - h0, device[tight], 1)[0])
            # A crystal is never off by more than a few hundred ppm; a wilder fit is noise.
            slope = float(np.clip(slope, 1 - MAX_DRIFT, 1 + MAX_DRIFT))
        self._slope = slope
        self._offset_s = float(np.mean(device[tightest] - slope * host[tightest]))
        residual = np.abs(device[tight] - (self._offset_s + slope * host[tight]))
        self._bound_s = float(wire[tight].max() + residual.max())

    def to_host(self, device_us: int) -> float:
        self._refresh()
        return (device_us * 1e-6 - self._offset_s) / self._slope
