"""Replica TASERs and pistols over USB serial: the wire protocol, device emulators, host driver.

The bottom layer: it imports neither `drills`, `scoring` nor `range`. Ports are opened only through
`serial.serial_for_url`; emulators sit behind real pseudo-terminals, so the host code path is the
one real hardware takes.
"""
