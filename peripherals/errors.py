"""Peripheral errors, grouped by when they happen (after python-can's exceptions)."""

from __future__ import annotations


class PeripheralError(Exception):
    """Anything that went wrong with a replica or its port."""


class PeripheralNotFoundError(PeripheralError):
    """No device at that port, or the port does not exist."""


class PeripheralInitError(PeripheralError):
    """The port opened but the handshake failed."""


class ProtocolVersionError(PeripheralInitError):
    """The device speaks a protocol version this host does not."""


class PeripheralIdentityError(PeripheralInitError):
    """A re-attached device could not prove it is the replica first attached (its session
    nonce does not match)."""


class PeripheralIOError(PeripheralError):
    """Reading or writing an open port failed (the device was unplugged, most often)."""


class PeripheralTimeoutError(PeripheralError, TimeoutError):
    """The device did not answer in time."""
