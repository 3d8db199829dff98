"""Task models and preprocessing: pretrained encoders offline, sub-word label alignment, the joint
intent + slot model and its collator, and :func:`build_task` that wires them for a Trainer.

Names are imported on first use (PEP 562), so ``import datadiet.toolkit.tasks.models`` does not pay for
importing ``transformers``.
"""

from __future__ import annotations

from datadiet._extras import require_installed

require_installed("transformers", "datasets", extra="hf", purpose="datadiet.toolkit.tasks")

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "JointNLUCollator": "collate",
    "JointIntentSlotConfig": "joint",
    "JointIntentSlotModel": "joint",
    "JointIntentSlotOutput": "joint",
    "MINILM": "models",
    "describe_loading": "models",
    "dropped_layer_keys": "models",
    "load_encoder_path": "models",
    "load_pretrained": "models",
    "load_tokenizer": "models",
    "resolve_model_path": "models",
    "align_word_labels": "preprocess",
    "tokenize_joint_intent_slot": "preprocess",
    "tokenize_sequence_classification": "preprocess",
    "tokenize_token_classification": "preprocess",
    "TASKS": "spec",
    "TaskSpec": "spec",
    "build_task": "spec",
    "class_names": "spec",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from datadiet.toolkit.tasks.collate import JointNLUCollator
    from datadiet.toolkit.tasks.joint import JointIntentSlotConfig, JointIntentSlotModel, JointIntentSlotOutput
    from datadiet.toolkit.tasks.models import (
        MINILM,
        describe_loading,
        dropped_layer_keys,
        load_encoder_path,
        load_pretrained,
        load_tokenizer,
        resolve_model_path,
    )
    from datadiet.toolkit.tasks.preprocess import (
        align_word_labels,
        tokenize_joint_intent_slot,
        tokenize_sequence_classification,
        tokenize_token_classification,
    )
    from datadiet.toolkit.tasks.spec import TASKS, TaskSpec, build_task, class_names


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'datadiet.toolkit.tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"datadiet.toolkit.tasks.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
