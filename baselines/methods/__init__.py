"""The built-in baselines, one family per module; each registers itself on import."""
