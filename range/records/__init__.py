"""Records: the tamper-evident store and its exports."""
