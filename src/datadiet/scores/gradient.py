"""GraNd at the last layer (Paul, Ganguli & Dziugaite, NeurIPS 2021, "Deep Learning on a Data
Diet: Finding Important Examples Early in Training").

GraNd is the norm of an example's loss gradient. The full-parameter version costs one backward
pass per example; this is the practical version, the gradient w.r.t. the parameters of the last
linear layer (the classification head ``z = W h + b``). For softmax cross-entropy
``dL/dW = (p - e_y) h^T`` and ``dL/db = p - e_y``, so the exact norm is
``||p - e_y|| * sqrt(||h||^2 + 1)``: EL2N (GraNd at the logits) scaled by the size of the head's
input. It needs that input (``head_inputs``), which a scoring pass captures with a forward hook.
"""

from __future__ import annotations

import torch

from datadiet.scores.classification import el2n_errors
from datadiet.scores.inputs import ScoreInputs


def grand_last_layer(inputs: ScoreInputs) -> torch.Tensor:
    """``||d loss / d (W, b)||`` of the sequence-level head for each example:
    ``EL2N * sqrt(||h||^2 + 1)`` with ``h`` the head's input. Higher = harder."""
    h = inputs.head_inputs.float()
    return el2n_errors(inputs.logits, inputs.labels) * torch.sqrt(h.square().sum(-1) + 1.0)
