"""LoRA (peft.get_peft_model) through DataDietTrainer and DataDietSFTTrainer: trains, prunes,
scores with the adapted model, checkpoints and resumes with the identical selections."""

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import TrainerCallback, TrainingArguments

peft = pytest.importorskip("peft")
from peft import LoraConfig, get_peft_model  # noqa: E402

from datadiet import DataDiet, DataDietTrainer  # noqa: E402
from datadiet.history import SOURCE_PASS  # noqa: E402
from datadiet.integrations.trainer import DIET_STATE_FILE  # noqa: E402
from datadiet.llm.tokenization import CausalLMCollator, tokenize_pairs  # noqa: E402
from datadiet.scoring_pass import score_examples  # noqa: E402
from lm_helpers import (  # noqa: E402
    chat_tokenizer, prompt_completion_rows, require_fused_head, sft_args, sft_dataset, tiny_llama,
)

LORA = dict(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")


@pytest.fixture(scope="module")
def tok():
    return chat_tokenizer()


def lora_model(tok, **kw):
    return get_peft_model(tiny_llama(tok), LoraConfig(**{**LORA, **kw}))


@pytest.fixture(scope="module")
def tokenized(tok):
    rows = prompt_completion_rows(30)
    return Dataset.from_list(tokenize_pairs(tok, [r["prompt"] for r in rows], [r["completion"] for r in rows]))


class Snapshots(TrainerCallback):
    """The model's weights at the end of every epoch: what the next epoch's scoring pass sees."""

    def __init__(self):
        self.states = []

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        self.states.append({k: v.detach().clone() for k, v in model.state_dict().items()})


def trainer_args(out, **kw):
    base = dict(output_dir=str(out), num_train_epochs=3, per_device_train_batch_size=4, learning_rate=1e-2,
                logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True, seed=0)
    base.update(kw)
    return TrainingArguments(**base)


def test_lora_through_datadiet_trainer_scores_with_the_adapted_model(tmp_path, tok, tokenized):
    model = lora_model(tok)
    frozen = {k: v.clone() for k, v in model.named_parameters() if not v.requires_grad}
    snapshots = Snapshots()
    diet = DataDiet.p3(budget=8, rescore="all", progress=False)  # a pass every epoch (stale: test_p3_free.py)
    trainer = DataDietTrainer(diet=diet, model=model, args=trainer_args(tmp_path, learning_rate=5e-2), train_dataset=tokenized,
                              data_collator=CausalLMCollator(tok), callbacks=[snapshots])
    trainer.train()
    assert [r["kept"] for r in diet.log] == [8, 8, 8] and [r["scored"] for r in diet.log] == [30, 30, 30]
    assert trainer.state.global_step == diet.planned_steps(batch_size=4, sharding="batches")
    # only the adapters trained
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name])
    assert any("lora_B" in n and p.abs().sum() > 0 for n, p in model.named_parameters())
    # the last scoring pass (start of epoch 2) scored with the adapted model of the end of epoch 1;
    # under rescore="all" no free score overwrites it, so every example still holds it
    held = np.flatnonzero((diet.history.last_source == SOURCE_PASS) & (diet.history.last_epoch == 2))
    assert len(held) == 30
    model.load_state_dict(snapshots.states[1])
    dataset, collator = trainer._diet_scoring_inputs()
    adapted = score_examples(model, dataset, held, collator, diet.adapter, diet.score, progress=False)
    order = np.argsort(adapted.ids)
    np.testing.assert_allclose(adapted.scores[order], diet.history.latest[np.sort(held)], rtol=1e-5, atol=1e-6)
    with model.disable_adapter():
        base = score_examples(model, dataset, held, collator, diet.adapter, diet.score, progress=False)
    assert np.abs(base.scores[np.argsort(base.ids)] - adapted.scores[order]).max() > 1e-3


def test_lora_checkpoints_save_adapters_and_resume_with_the_same_selections(tmp_path, tok, tokenized):
    def make(out):
        return DataDietTrainer(diet=DataDiet(keep=0.5, rescore_fraction=0.2, progress=False), model=lora_model(tok),
                               args=trainer_args(out, num_train_epochs=4, save_strategy="epoch"),
                               train_dataset=tokenized, data_collator=CausalLMCollator(tok))

    full_run = make(tmp_path / "a")
    full_run.train()
    assert full_run.diet.score.name == "token_nll"
    ckpts = sorted((tmp_path / "a").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert all((c / "adapter_model.safetensors").is_file() and (c / DIET_STATE_FILE).is_file() for c in ckpts)
    assert not any((c / "model.safetensors").exists() for c in ckpts)  # the adapters only
    resumed = make(tmp_path / "b")
    resumed.train(resume_from_checkpoint=str(ckpts[1]))
    np.testing.assert_array_equal(resumed.diet.kept_matrix(), full_run.diet.kept_matrix())
    assert resumed.state.global_step == full_run.state.global_step
    for (name, p_a), p_b in zip(full_run.model.named_parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p_a, p_b, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("how", ["peft_config", "get_peft_model"])
def test_lora_through_sft_trains_prunes_and_resumes(tmp_path, tok, how):
    from datadiet.integrations.trl import DataDietSFTTrainer

    def make(out):
        kw = {"peft_config": LoraConfig(**LORA), "model": tiny_llama(tok)} if how == "peft_config" else \
            {"model": lora_model(tok)}
        return DataDietSFTTrainer(args=sft_args(out, num_train_epochs=3, save_strategy="epoch"), processing_class=tok,
                                  train_dataset=sft_dataset("prompt_completion"), diet=DataDiet.p3(budget=8, progress=False),
                                  **kw)

    full_run = make(tmp_path / "a")
    assert isinstance(full_run.model, peft.PeftModel)
    full_run.train()
    diet = full_run.diet
    assert [r["kept"] for r in diet.log] == [8, 8, 8]
    assert full_run.state.global_step == diet.planned_steps(batch_size=4, sharding="batches")
    scored = [r["scored"] for r in diet.log]  # rescore="stale": free scores and features through the LoRA model
    assert scored[:2] == [30, 0] and scored[2] <= 3 and np.isfinite(diet.features).all()
    assert diet.history.count.sum() == diet.kept_matrix().sum() + sum(scored)  # training passes + scoring passes
    ckpts = sorted((tmp_path / "a").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert all((c / "adapter_model.safetensors").is_file() and (c / DIET_STATE_FILE).is_file() for c in ckpts)
    resumed = make(tmp_path / "b")
    resumed.train(resume_from_checkpoint=str(ckpts[0]))
    np.testing.assert_array_equal(resumed.diet.kept_matrix(), diet.kept_matrix())
    np.testing.assert_allclose(resumed.diet.history.latest, diet.history.latest, rtol=1e-5)
    for p_a, p_b in zip(full_run.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p_a, p_b, rtol=1e-4, atol=1e-5)


def test_fused_scores_of_a_lora_model_are_the_adapted_models(tmp_path, tok):
    """The training step's free scores (TRL's fused head on a LoRA model) equal the adapted
    model's scores from its logits, and differ from the base model's."""
    require_fused_head()
    from datadiet.integrations.trl import DataDietSFTTrainer
    from datadiet.scores import get_score

    model = lora_model(tok, init_lora_weights=False)  # random B: the adapters change the outputs
    trainer = DataDietSFTTrainer(model=model, args=sft_args(tmp_path), processing_class=tok,
                                 train_dataset=sft_dataset("prompt_completion"), diet=DataDiet(keep=0.5, progress=False))
    dataset, collator = trainer._diet_scoring_inputs()
    batch = collator([dataset[i] for i in range(8)])
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
    score, adapter = get_score("token_nll"), trainer.diet.adapter
    with torch.no_grad():
        fused = score(adapter.score_inputs(model(**inputs, fused_lm_head=True), batch))
        adapted = score(adapter.score_inputs(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]), batch))
        with model.disable_adapter():
            base = score(adapter.score_inputs(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]), batch))
    torch.testing.assert_close(fused, adapted, rtol=1e-5, atol=1e-5)
    assert (fused - base).abs().max() > 1e-3
