"""The embedded demo: LLZO → initial data → stock ``dpgen run`` → held-out report."""
