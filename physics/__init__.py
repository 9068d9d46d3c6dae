"""PyBullet world, human bodies with labelled regions, probe and bullet flight.

The bottom layer: it imports neither `drills`, `scoring` nor `range`. Time is steps x dt and every
random draw comes from a `numpy.random.Generator` handed in by the caller.
"""
