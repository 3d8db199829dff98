"""How training turns an epoch's examples into optimizer steps: the batch layout of a run.

The plan's steps, the Trainer's epoch lengths, the examples an epoch must have trained by its end
and the resume check all read one :class:`BatchLayout`, so the arithmetic lives in one place
(:func:`~datadiet.schedule.epoch_optimizer_steps`) and a run resumed under another layout is
either continued exactly or refused (:meth:`BatchLayout.resume_change`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from datadiet.schedule import SHARD_EXAMPLES, SHARDINGS, epoch_optimizer_steps


@dataclass(frozen=True)
class BatchLayout:
    """The batches of a (data-parallel) run.

    Args:
        batch_size: examples in one micro-batch of one rank's data loader (under accelerate's
            ``split_batches``, the batch before it is split across the ranks).
        world_size: data-parallel ranks that each take whole batches (1 under ``split_batches``).
        grad_accum: micro-batches per optimizer step.
        drop_last: a last partial batch (and, across ranks, a last uneven round) is dropped.
        sharding: who splits the epoch across ranks: ``"examples"`` (a sampler per rank, like
            ``DistributedSampler``) or ``"batches"`` (one sampler, accelerate deals the batches).
        split_over: ranks each batch is split across (accelerate's ``split_batches``; 1 otherwise).
    """

    batch_size: int
    world_size: int = 1
    grad_accum: int = 1
    drop_last: bool = False
    sharding: str = SHARD_EXAMPLES
    split_over: int = 1

    def __post_init__(self) -> None:
        for name in ("batch_size", "world_size", "grad_accum", "split_over"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.sharding not in SHARDINGS:
            raise ValueError(f"sharding must be one of {', '.join(SHARDINGS)}, got {self.sharding!r}")

    @property
    def examples_per_step(self) -> int:
        """Examples of one optimizer step, all ranks together (before any padding)."""
        return self.batch_size * self.world_size * self.grad_accum

    def steps(self, kept: int) -> int:
        """Optimizer steps of an epoch of ``kept`` examples."""
        return epoch_optimizer_steps(kept, self.batch_size, world_size=self.world_size, grad_accum=self.grad_accum,
                                     drop_last=self.drop_last, sharding=self.sharding)

    def trained(self, kept: int) -> int:
        """Distinct examples an epoch of ``kept`` trains on: all of them, less what ``drop_last``
        drops (padding repeats examples, it adds none)."""
        if not self.drop_last:
            return int(kept)
        b, w = self.batch_size, self.world_size
        if self.sharding == SHARD_EXAMPLES:
            return w * b * ((kept // w) // b)
        return w * b * ((kept // b) // w)

    def describe(self) -> str:
        """``"2 ranks x 8 examples x 2 accumulation steps = 32 examples per optimizer step"``."""
        parts = [f"{self.world_size} rank{'s' if self.world_size != 1 else ''}", f"{self.batch_size} examples"]
        if self.split_over > 1:
            parts[1] += f" split over {self.split_over} ranks"
        if self.grad_accum > 1:
            parts.append(f"{self.grad_accum} accumulation steps")
        text = " x ".join(parts) + f" = {self.examples_per_step} examples per optimizer step"
        return text + (", last partial batch dropped" if self.drop_last else "")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict) -> "BatchLayout":
        return cls(batch_size=int(state["batch_size"]), world_size=int(state["world_size"]),
                   grad_accum=int(state["grad_accum"]), drop_last=bool(state["drop_last"]),
                   sharding=str(state["sharding"]), split_over=int(state.get("split_over", 1)))

    def matching(self, saved: "BatchLayout") -> str:
        """How to get ``saved``'s examples per optimizer step on this layout's ranks, in words."""
        target, ranks = saved.examples_per_step, self.world_size
        if target % (ranks * self.grad_accum) == 0:
            return f"a batch size of {target // (ranks * self.grad_accum)} per rank"
        if target % (ranks * self.batch_size) == 0:
            return f"{target // (ranks * self.batch_size)} gradient accumulation steps"
        return f"a batch size x ranks x accumulation steps of {target}"

    def resume_change(self, saved: "BatchLayout", kept_per_epoch: list[int]) -> str | None:
        """None when a run saved under ``saved`` continues exactly under this layout (the same
        examples per optimizer step and the same steps in every epoch of ``kept_per_epoch``, so
        the position in steps means the same examples left in the epoch); else what changed."""
        if self == saved:
            return None
        same_steps = all(self.steps(k) == saved.steps(k) and self.trained(k) == saved.trained(k) for k in kept_per_epoch)
        if self.examples_per_step == saved.examples_per_step and same_steps:
            return None
        changed = [f"{name} {getattr(saved, name)} -> {getattr(self, name)}" for name in
                   ("world_size", "batch_size", "grad_accum", "split_over", "drop_last", "sharding")
                   if getattr(saved, name) != getattr(self, name)]
        return (f"the batch layout changed ({', '.join(changed)}): the checkpoint's run took {saved.describe()}, "
                f"this one {self.describe()}, so its position in optimizer steps no longer says which examples "
                f"are left; resume with the checkpoint's layout, or with {self.matching(saved)} on these "
                f"{self.world_size} rank(s) so every step takes the same {saved.examples_per_step} examples")
