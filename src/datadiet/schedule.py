"""What each epoch is: full data (warm-up, annealing) or pruned with kept fraction k_e.

The schedule is fixed before training, so the number of examples of every epoch, and so the number
of optimizer steps, is known ahead and the learning-rate schedule ends where it should.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from datadiet.select.validation import check_keep, kept_count

WARMUP, PRUNE, ANNEAL = "warmup", "prune", "anneal"


@dataclass(frozen=True)
class Schedule:
    """Epoch plan of a pruned fine-tuning.

    Args:
        num_epochs: E, the total number of epochs.
        keep: kept fraction of pruned epochs, a float in (0, 1], or ``(start, end)`` for a linear
            ramp over the pruned epochs.
        warmup_epochs: epochs on the full data before the first selection (scores before about one
            epoch are unreliable: Attendu & Corbeil 2023).
        period: a new selection every ``period`` pruned epochs (T in the paper); in between, the
            previous selection is kept.
        anneal_epochs: final epochs on the full data (InfoBatch's annealing).
    """

    num_epochs: int
    keep: float | tuple[float, float] = 0.5
    warmup_epochs: int = 1
    period: int = 1
    anneal_epochs: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.num_epochs, int) or self.num_epochs < 1:
            raise ValueError(f"num_epochs must be a positive integer, got {self.num_epochs!r}")
        if isinstance(self.keep, (tuple, list)):
            if len(self.keep) != 2:
                raise ValueError(f"a keep ramp is (start, end), got {self.keep!r}")
            for k in self.keep:
                check_keep(k)
            object.__setattr__(self, "keep", (float(self.keep[0]), float(self.keep[1])))
        else:
            check_keep(self.keep)
        if self.warmup_epochs < 0 or self.anneal_epochs < 0:
            raise ValueError("warmup_epochs and anneal_epochs must be >= 0")
        if self.period < 1:
            raise ValueError(f"period must be >= 1 epoch, got {self.period}")
        if self.warmup_epochs + self.anneal_epochs > self.num_epochs:
            raise ValueError(
                f"warm-up ({self.warmup_epochs}) + annealing ({self.anneal_epochs}) epochs exceed the "
                f"{self.num_epochs} training epochs: nothing would be pruned. Lower warmup_epochs or train longer."
            )

    @property
    def pruned_epochs(self) -> range:
        return range(self.warmup_epochs, self.num_epochs - self.anneal_epochs)

    def phase(self, epoch: int) -> str:
        """``warmup``, ``prune`` or ``anneal``."""
        if not 0 <= epoch < self.num_epochs:
            raise ValueError(f"epoch {epoch} is outside the planned 0..{self.num_epochs - 1}")
        if epoch < self.warmup_epochs:
            return WARMUP
        if epoch >= self.num_epochs - self.anneal_epochs:
            return ANNEAL
        return PRUNE

    def keep_at(self, epoch: int) -> float:
        """Kept fraction of this epoch (1.0 outside the pruned phase)."""
        if self.phase(epoch) != PRUNE:
            return 1.0
        if not isinstance(self.keep, tuple):
            return float(self.keep)
        span = len(self.pruned_epochs)
        t = 0.0 if span <= 1 else (epoch - self.warmup_epochs) / (span - 1)
        return self.keep[0] + t * (self.keep[1] - self.keep[0])

    def is_selection_epoch(self, epoch: int) -> bool:
        """True where a pruned epoch starts a new selection cycle (every ``period`` pruned epochs)."""
        return self.phase(epoch) == PRUNE and (epoch - self.warmup_epochs) % self.period == 0

    def kept_counts(self, num_examples: int) -> list[int]:
        """Examples trained on in each epoch."""
        return [
            num_examples if self.phase(e) != PRUNE else kept_count(self.keep_at(e), num_examples)
            for e in range(self.num_epochs)
        ]


SHARD_EXAMPLES, SHARD_BATCHES = "examples", "batches"
SHARDINGS = (SHARD_EXAMPLES, SHARD_BATCHES)
"""How a data-parallel run splits an epoch's examples across ranks (see :func:`epoch_optimizer_steps`)."""


def epoch_optimizer_steps(num_examples: int, batch_size: int, *, world_size: int = 1, grad_accum: int = 1,
                          drop_last: bool = False, sharding: str = SHARD_EXAMPLES) -> int:
    """Optimizer steps each data-parallel rank takes in an epoch of ``num_examples`` examples.

    The one formula the plan (:meth:`DataDiet.planned_steps`), the Trainer integration and the plain
    loop share. ``sharding`` says who splits the epoch across the ``world_size`` ranks:

    - ``"examples"`` (a plain loop with :class:`~datadiet.DietSampler`, like ``DistributedSampler``):
      each rank gets ``ceil(n / W)`` examples (``floor`` with ``drop_last``), then batches of
      ``batch_size`` (a last partial batch is dropped with ``drop_last``);
    - ``"batches"`` (the Hugging Face Trainer, where accelerate shards the batches): one sampler
      yields all ``n`` examples, the loader makes ``ceil(n / b)`` batches (``floor`` with
      ``drop_last``) and deals them round-robin, ``ceil(B / W)`` per rank (accelerate's
      ``even_batches``) or ``floor(B / W)`` with ``drop_last``.

    A last partial gradient accumulation still steps: ``ceil(batches / grad_accum)``.

    Example:
        >>> epoch_optimizer_steps(48, 16, world_size=2, drop_last=True, sharding="batches")
        1
        >>> epoch_optimizer_steps(101, 10, world_size=2)
        6
    """
    if sharding not in SHARDINGS:
        raise ValueError(f"sharding must be one of {', '.join(SHARDINGS)}, got {sharding!r}")
    for name, value in (("batch_size", batch_size), ("world_size", world_size), ("grad_accum", grad_accum)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    n, b, w = int(num_examples), int(batch_size), int(world_size)
    if sharding == SHARD_EXAMPLES:
        per_rank = n // w if drop_last else math.ceil(n / w)
        batches = per_rank // b if drop_last else math.ceil(per_rank / b)
    else:
        total = n // b if drop_last else math.ceil(n / b)
        batches = total // w if drop_last else math.ceil(total / w)
    return math.ceil(batches / int(grad_accum))
