"""The runs of the GSM8K benchmark: which diet each method name means, and the model it fine-tunes
(all weights, or LoRA adapters through ``peft``).

A method is written ``NAME``, ``NAME@KEEP`` or ``NAME@time=OTHER``: ``random@0.62`` is dynamic
random at 62% of the pool per epoch; ``random@time=p3_free`` (``full``, ``random`` and ``default``)
is fitted, seed by seed, to the time ratio that the ``p3_free`` run of the same seed measured
(random: that kept fraction; the default diet: ``DataDiet(time_budget=ratio)``, whose plan solves
the keep with its warm-up epoch; full data: fewer epochs, see :func:`fewer_epochs`). These put a
cheap method at the same *time* as a costlier one (P3 pays for its scoring passes) next to the runs
at the same *example budget* (``--keep``).
"""

from __future__ import annotations

from dataclasses import dataclass

from datadiet import DataDiet
from datadiet.planning import full_data_epochs as fewer_epochs  # (whole, last): the split full@time= trains

METHODS = {
    "full": "every pool example, every epoch (the reference of every time ratio)",
    "random": "a fresh uniform random keep x pool examples each epoch, no warm-up",
    "default": "the library's default DataDiet(keep): 1 warm-up epoch, then the hardest examples by their "
               "completion NLL, scores free from the training forward, stale ones re-scored, 10% exploration",
    "p3": "P3 as the authors' code runs it: percentile 20, 40, ..., 100 of the epochs, DPP quality = mean action "
          "probability, z-scored features, a scoring pass over the whole pool every epoch (rescore='all')",
    "p3_free": "the library's DataDiet.p3(budget): the authors' selection rules, with difficulty and features of "
               "the examples trained last epoch taken from their training forward (rescore='stale')",
    "p3_cold": "p3_free whose first epoch trains a uniform random budget instead of scoring the whole pool first "
               "(cold_start='random'); the next epoch's pass scores only the examples it did not train",
    "p3_cold_hard": "p3_cold whose DPP prefers the harder eligible examples (quality='difficulty', q = d) instead "
                    "of the easier ones: the authors' easiness quality made P3 train below-average difficulty "
                    "(0.41 against the pool's 0.51 on GSM8K SFT) and lose to random on test NLL",
}


TIME_MATCHED = ("full", "random", "default")
"""The methods ``NAME@time=OTHER`` can fit to another run's measured time (``full``: fewer epochs)."""


@dataclass(frozen=True)
class MethodSpec:
    """One method of the benchmark at one kept fraction (``keep`` is None for ``full``)."""

    name: str
    keep: float | None
    explicit_keep: bool = False
    time_of: str | None = None

    @property
    def label(self) -> str:
        """How the method appears in results: ``random``, ``random@0.62`` off the default keep, or
        ``random@time=p3_free``."""
        if self.time_of is not None:
            return f"{self.name}@time={self.time_of}"
        return f"{self.name}@{self.keep:g}" if self.explicit_keep else self.name

    @classmethod
    def parse(cls, text: str, default_keep: float) -> "MethodSpec":
        """``NAME`` (at ``default_keep``) or ``NAME@KEEP``; unknown names and keeps outside (0, 1] are refused."""
        name, sep, keep_text = text.partition("@")
        if name not in METHODS:
            raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)} (optionally NAME@KEEP)")
        if name == "full" and sep and not keep_text.startswith("time="):
            raise ValueError("'full' trains on every example; it takes no @KEEP (full@time=OTHER: fewer epochs)")
        if name == "full" and not sep:
            return cls(name, None)
        if not sep:
            return cls(name, default_keep)
        if keep_text.startswith("time="):
            if name not in TIME_MATCHED:
                raise ValueError(f"{text!r}: only {', '.join(TIME_MATCHED[:-1])} and {TIME_MATCHED[-1]} can be fitted "
                                 "to another run's time")
            other = keep_text[len("time="):]
            if not other:
                raise ValueError(f"{text!r}: name the method whose time to match, e.g. {name}@time=p3_free")
            return cls(name, None, time_of=other)
        try:
            keep = float(keep_text)
        except ValueError:
            raise ValueError(f"{text!r}: the part after '@' must be a kept fraction, got {keep_text!r}") from None
        if not 0.0 < keep <= 1.0:
            raise ValueError(f"{text!r}: the kept fraction must be in (0, 1], got {keep}")
        return cls(name, keep, explicit_keep=True)

    def train_epochs(self, num_epochs: int, time_ratio: float | None = None) -> int:
        """The epochs the Trainer runs: ``num_epochs``, except for ``full@time=``, whose whole and
        fractional epochs (:func:`fewer_epochs`) are each one epoch of the Trainer."""
        if self.name != "full" or self.time_of is None:
            return num_epochs
        whole, last = fewer_epochs(self._needs(time_ratio), num_epochs)
        return whole + (last > 0)

    def _needs(self, time_ratio: float | None) -> float:
        if time_ratio is None:
            raise ValueError(f"{self.label} needs the time ratio of the {self.time_of} run of the same seed")
        return time_ratio

    def diet(self, seed: int, *, scoring_batch_size: int, rescore_fraction: float,
             time_ratio: float | None = None, num_epochs: int | None = None) -> DataDiet:
        """The library preset that runs this method (``time_ratio``: the matched run's, for ``@time=``;
        ``num_epochs``: the protocol's epochs, which ``full@time=`` shortens)."""
        if self.time_of is not None:
            self._needs(time_ratio)
        if self.name == "full" and self.time_of is not None:
            if num_epochs is None:
                raise ValueError(f"{self.label} needs num_epochs (the protocol's) to fit its epochs to the time")
            whole, last = fewer_epochs(time_ratio, num_epochs)
            if not last:
                return DataDiet(method="full", seed=seed, progress=False)
            # every example for `whole` epochs (the warm-up), then a random `last` of them
            return DataDiet(method="random", keep=last, warmup_epochs=whole, seed=seed, progress=False)
        registered, protocol, takes = REGISTERED[self.name]
        amount = {"keep": self.keep}
        if self.time_of is not None:  # random: the matched run's ratio as its keep; default: as its time budget
            amount = {"keep": min(1.0, time_ratio)} if self.name == "random" else {"time_budget": min(1.0, time_ratio)}
            if self.name == "default":  # the rule seeds 0-1 were measured with (before "auto" was the default)
                amount["budget_epochs"] = "all"
        given = {"scoring_batch_size": scoring_batch_size, "rescore_fraction": rescore_fraction}
        return DataDiet(method=registered, seed=seed, progress=False, **amount, **protocol, **{k: given[k] for k in takes})


SCORING = ("scoring_batch_size",)
STALE_SCORING = ("scoring_batch_size", "rescore_fraction")

REGISTERED = {
    "full": ("full", {}, ()),
    "random": ("random", {"warmup_epochs": 0}, ()),
    "default": ("default", {}, SCORING),
    "p3": ("p3", {"rescore": "all"}, SCORING),
    "p3_free": ("p3", {}, STALE_SCORING),
    "p3_cold": ("p3_cold", {}, STALE_SCORING),
    "p3_cold_hard": ("p3_cold", {"quality": "difficulty"}, STALE_SCORING),
}
"""Each benchmark name as a method of the library's registry (``datadiet.strategies.available_methods``):
``(registered method, the protocol's settings, the command-line settings it takes)``: a scoring
method takes ``--scoring-batch-size``, P3 re-scoring stale examples also ``--rescore-fraction``."""


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapters (``peft``) on every linear layer of the decoder, the base weights frozen."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.0

    def config(self):
        """The ``peft.LoraConfig`` (what ``DataDietSFTTrainer(peft_config=...)`` takes)."""
        try:
            from peft import LoraConfig
        except ImportError as err:  # pragma: no cover - peft is in the llm extra
            raise SystemExit("--finetune lora needs peft: pip install 'datadiet[llm]'") from err
        return LoraConfig(task_type="CAUSAL_LM", r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules="all-linear")

    def apply(self, model):
        """``model`` wrapped by ``peft.get_peft_model``; only the adapters train."""
        from peft import get_peft_model

        return get_peft_model(model, self.config())
