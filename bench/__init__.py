"""colorbench's metrics engine and the core shared by every package.

Layers (imports flow one way): ``bench`` (core + metrics) <- ``pairing`` <- ``baselines``,
``reference_models`` <- ``leaderboards``.
"""

from .version import __version__

__all__ = ["__version__"]
