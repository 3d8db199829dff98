"""Per-example scores: pure functions from model outputs to one number per example (higher = harder).

Use a score by name (``get_score("el2n")``) or add one with :func:`register_score`.
``available_scores()`` lists them all.
"""

from functools import partial

from datadiet.scores import classification as _cls
from datadiet.scores.gradient import grand_last_layer as _grand_last_layer
from datadiet.scores.lm import token_nll as _token_nll
from datadiet.scores.policy import POLICY_REQUIRES as _POLICY_REQUIRES
from datadiet.scores.policy import policy_difficulty as _policy_difficulty
from datadiet.scores.inputs import IGNORE_INDEX, ScoreInputs
from datadiet.scores.registry import Score, available_scores, get_score, register_score

register_score("el2n", _cls.el2n, ("logits", "labels"), "EL2N of the sequence-level prediction (Paul et al. 2021)")
register_score("token_el2n", _cls.token_el2n, ("token_logits", "token_labels"), "mean EL2N over valid tokens")
register_score(
    "joint_el2n", partial(_cls.joint_el2n, reduction="norm"), ("logits", "labels", "token_logits", "token_labels"),
    "joint intent+slot EL2N, L2 norm of all errors (Attendu & Corbeil 2023)",
)
register_score(
    "joint_el2n_sum", partial(_cls.joint_el2n, reduction="sum"), ("logits", "labels", "token_logits", "token_labels"),
    "joint intent+slot EL2N, intent error + sum of token errors",
)
register_score(
    "joint_el2n_mean", partial(_cls.joint_el2n, reduction="mean"), ("logits", "labels", "token_logits", "token_labels"),
    "joint intent+slot EL2N, (intent error + mean token error) / 2",
)
register_score("grand", _grand_last_layer, ("logits", "labels", "head_inputs"),
               "GraNd at the last layer: norm of the loss gradient w.r.t. the head (Paul et al. 2021)")
register_score("loss", _cls.loss, (), "per-example cross-entropy (joint: 0.5 intent + 0.5 summed slot CE)")
register_score("entropy", _cls.entropy, ("logits",), "entropy of the predicted distribution")
register_score("margin", _cls.negative_margin, ("logits", "labels"), "minus the margin p(y) - max_{c!=y} p(c)")
register_score(
    "policy_difficulty", _policy_difficulty, _POLICY_REQUIRES,
    "P3 policy-driven difficulty of a causal LM: 1 - mean action probability (Yang et al. 2024)",
)
register_score("token_nll", _token_nll, ("token_labels",), "causal LM: mean NLL of the labelled (completion) tokens")

__all__ = ["IGNORE_INDEX", "Score", "ScoreInputs", "available_scores", "get_score", "register_score"]
