"""Scoring: judges a run from its event log alone, so any saved run can be rescored.

A middle layer: it reads `drills` log records and vocabulary; it never imports `range`.
Every point gained or lost cites a rule id and a moment on the timeline.
"""
