"""Peripheral events as the rest of OpenRange sees them: stamped in host time."""

from __future__ import annotations

from dataclasses import dataclass

from peripherals.messages import EventKind, Model


@dataclass(frozen=True, slots=True)
class PeripheralEvent:
    """One EVENT from a replica. `host_time_s` is the device timestamp mapped onto the host clock
    through clock sync, so a trigger press is placed where it happened, not where it was read."""

    serial: str
    model: Model
    kind: EventKind
    host_time_s: float
    device_time_us: int
    bay: int = 0
    probe: int = 0
    value: int = 0
    # When the host read it (host seconds): transport latency, kept out of the event log
    # because it depends on the machine's scheduling, not on what happened.
    received_s: float = 0.0

    def as_record(self) -> dict[str, object]:
        return {
            "serial": self.serial,
            "model": self.model.slug,
            "event": self.kind.name.lower(),
            "host_time_s": round(self.host_time_s, 6),
            "device_time_us": self.device_time_us,
            "bay": self.bay,
            "probe": self.probe,
            "value": self.value,
        }
