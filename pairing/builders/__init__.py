"""Split builders, one per file; :mod:`pairing.registry` maps their names to functions."""
