"""Tables and figures from scored results, beside the papers' published numbers.

    leaderboards.make_leaderboard(results, out, fmt="md", ...) -> LeaderboardFiles
    leaderboards.build_leaderboard(results, published=None) -> Leaderboard
    leaderboards.load_result(path), leaderboards.render(board, fmt), leaderboards.load_published(name)

Every name is imported on first use.
"""

from bench.core.lazy import lazy_exports

# A function named like its module is bound here, eagerly: once the submodule is imported, Python
# would otherwise set the package attribute to the module (its module is light).
from .render import render

_EXPORTS = {"make_leaderboard": ".make", "LeaderboardFiles": ".make", "build_leaderboard": ".table",
            "Leaderboard": ".table", "load_result": ".results", "load_results": ".results",
            "load_published": ".published_tables", "list_published": ".published_tables"}

__all__ = [*_EXPORTS, "render"]
__getattr__ = lazy_exports(__name__, _EXPORTS)
