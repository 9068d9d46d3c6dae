"""Review: the renderer, the after-action report, the instructor's mirror."""
