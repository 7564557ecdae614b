"""dpgen-llzo: a DP-GEN plugin and bundle for a Deep Potential of garnet LLZO."""

__version__ = "0.1.0"
