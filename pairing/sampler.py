"""Training-time reference sampling, as the MSA paper describes.

Each epoch, every target (image, or object at object level) gets one reference: with
probability ``p_synthetic`` one of its synthetic references, otherwise one of its retrieved /
same-class references, uniformly within the chosen group. The MSA paper says pairs were
"sampled using a uniform distribution with a weight of 0.25 ... randomly selecting either the
three semantically closest reference images or the two synthetic references"; we read the 0.25
as the weight of the synthetic group (the default) and make it configurable.

The sampler is a :class:`torch.utils.data.Sampler` over the split's row indices: deterministic
for a given ``seed`` and epoch (call :meth:`set_epoch`), one row per target per epoch.
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Sampler

from bench.core.errors import ColorbenchError
from bench.core.splits import Split

__all__ = ["ReferenceSampler", "DistributedReferenceSampler", "DEFAULT_P_SYNTHETIC"]

DEFAULT_P_SYNTHETIC = 0.25


class ReferenceSampler(Sampler[int]):
    """Yields, per epoch, one row index of ``split.table`` for each target, shuffled.

    Args:
        split: the split (its table's row order is what the indices refer to).
        p_synthetic: probability of drawing from the synthetic group (when a target has both).
        shuffle: shuffle target order each epoch.
        seed: base seed; the epoch is mixed in.
    """

    def __init__(self, split: Split, p_synthetic: float = DEFAULT_P_SYNTHETIC, shuffle: bool = True, seed: int = 0):
        if not 0.0 <= p_synthetic <= 1.0:
            raise ValueError(f"p_synthetic must be in [0, 1]; got {p_synthetic}")
        if not split.has_references:
            # Exemplar training draws a reference per target; a targets-only split has none to draw.
            raise ColorbenchError(f"{split.no_references_note()}; train exemplar-based models on a split with "
                                  "references")
        self.p_synthetic, self.shuffle, self.seed, self.epoch = p_synthetic, shuffle, seed, 0
        table = split.table
        key = table["target_ann_id"].astype("string").fillna("") if split.level == "object" else None
        groups = table.groupby([table["target_id"], key] if key is not None else table["target_id"], sort=True)
        synthetic = (table["reference_kind"] == "synthetic").to_numpy()
        self.targets = []
        for _, rows in groups.indices.items():
            rows = np.sort(rows)
            self.targets.append((rows[~synthetic[rows]], rows[synthetic[rows]]))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.targets)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.targets)) if self.shuffle else np.arange(len(self.targets))
        draws = rng.random(len(self.targets))
        picks = rng.random(len(self.targets))
        for t in order:
            retrieved, synthetic = self.targets[t]
            use_synthetic = len(synthetic) and (not len(retrieved) or draws[t] < self.p_synthetic)
            group = synthetic if use_synthetic else retrieved
            yield int(group[int(picks[t] * len(group))])


class DistributedReferenceSampler(ReferenceSampler):
    """:class:`ReferenceSampler` for one of ``world_size`` training processes (DDP): every rank
    draws the same epoch (same seed and epoch) and keeps every ``world_size``-th row from
    ``rank``; the list is padded with its first rows to a multiple of ``world_size``, so every
    rank runs the same number of steps (as :class:`torch.utils.data.DistributedSampler`).
    """

    def __init__(self, split: Split, rank: int, world_size: int, **options):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size; got rank {rank} of {world_size}")
        super().__init__(split, **options)
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return -(-len(self.targets) // self.world_size)

    def __iter__(self):
        rows = list(super().__iter__())
        rows += rows[: (-len(rows)) % self.world_size]
        return iter(rows[self.rank::self.world_size])
