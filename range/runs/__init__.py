"""Runs: lanes, hands, the frame loop, run files; drills and courses of fire."""
