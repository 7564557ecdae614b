"""Li-hop barriers: climbing-image NEB of elementary hops in LLZO with a DP (or any ASE calculator),
the same path evaluated, or re-optimised, with a teacher (``dpgen-llzo neb``)."""
