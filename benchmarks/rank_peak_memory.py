"""Run ``colorbench ARGS`` in this process, then record its peak resident memory.

    torchrun --nproc_per_node 2 benchmarks/rank_peak_memory.py score --split ... --out ...

Each process writes ``$PEAK_MEMORY_DIR/rank-<RANK>.json``: the peak RSS (GB) of the process itself and
of the largest DataLoader worker it waited for. ``scaling_bench.py`` starts it to measure every rank of
a ``torchrun`` run, which the launcher's own resource usage cannot tell apart.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

from bench.cli import main

if __name__ == "__main__":
    code = main(sys.argv[1:])
    own, workers = (resource.getrusage(who).ru_maxrss / 1024**2 for who in (resource.RUSAGE_SELF,
                                                                               resource.RUSAGE_CHILDREN))
    folder = Path(os.environ["PEAK_MEMORY_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"rank-{os.environ.get('RANK', '0')}.json").write_text(json.dumps({"process": own, "workers": workers}))
    sys.exit(code)
