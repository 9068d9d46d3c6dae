"""Drills: scenario files, the fixed-step engine that plays them, and the scripted officer.

A middle layer: it uses `physics` types and writes an event log that `scoring` judges; it never
imports `range`. Time is the engine's step count x dt.
"""
