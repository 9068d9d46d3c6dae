"""The armorer's calibration: the boresight and latency solver, profiles per serial, the bench."""
