"""The DataDiet orchestrator: presets, rescoring policy, errors, and a plain PyTorch loop."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from datadiet import DataDiet
from datadiet.scores import ScoreInputs
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


def feed(diet, ids, scores):
    """Observe hand-made scores through the public API (logits giving exactly these EL2N values
    are awkward, so use the 'loss' score: CE of a 2-class logit pair)."""
    p = np.exp(-np.asarray(scores, float))  # p(y) so that CE = score
    logits = torch.log(torch.tensor(np.stack([p, 1 - p], 1).clip(1e-9, 1), dtype=torch.float32))
    diet.observe(torch.tensor(ids), ScoreInputs(logits=logits, labels=torch.zeros(len(ids), dtype=torch.long)))


def test_nlu_data_diets_keeps_the_hardest_from_a_full_rescore():
    model, ds = tiny_classifier(), toy_classification_dataset(40)
    diet = DataDiet.nlu_data_diets(keep=0.25, num_epochs=3, scoring_batch_size=7, progress=False).setup(40, model=model)
    diet.begin_epoch(0)
    sel = diet.begin_epoch(1, model=model, dataset=ds, collate_fn=pad_collate)
    assert diet.log[-1]["scored"] == 40 and len(sel) == 10
    # brute force: EL2N of every example under the model, eval mode, hardest 10
    model.eval()
    with torch.no_grad():
        b = pad_collate([ds[i] for i in range(40)])
        probs = torch.softmax(model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits, -1)
    el2n = torch.linalg.vector_norm(probs - torch.nn.functional.one_hot(b["labels"], 3), dim=-1).numpy()
    expected = sorted(np.lexsort((np.arange(40), -el2n))[:10].tolist())
    assert sel.indices.tolist() == expected


def test_default_rescoring_covers_only_stale_examples_within_budget():
    diet = DataDiet(keep=0.5, num_epochs=4, score="loss", rescore_fraction=0.2, epsilon=0.0, task="sequence_classification")
    diet.setup(10)
    diet.begin_epoch(0)
    feed(diet, range(10), np.linspace(0.1, 1.0, 10))  # warm-up epoch: all observed for free
    sel = diet.begin_epoch(1)  # nothing stale yet: no pass needed, no model needed
    assert sel.indices.tolist() == [5, 6, 7, 8, 9] and diet.log[-1]["scored"] == 0
    feed(diet, sel.indices, [0.05] * 5)  # the kept ones became easy
    diet.flush()
    ids = diet.strategy.ids_to_rescore(2, diet.history, diet.seed)  # examples 0..4 were last seen in epoch 0: stale, budget 2
    assert len(ids) == 2 and set(ids.tolist()) <= {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match="pass model=, dataset= and collate_fn="):
        diet.begin_epoch(2)


def test_free_scores_rotate_the_selection_without_any_pass():
    diet = DataDiet(keep=0.5, num_epochs=3, score="loss", rescore="none", epsilon=0.0, smoothing="latest",
                    task="sequence_classification").setup(6)
    diet.begin_epoch(0)
    feed(diet, range(6), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert diet.begin_epoch(1).indices.tolist() == [3, 4, 5]
    feed(diet, [3, 4, 5], [0.01, 0.02, 0.03])
    assert diet.begin_epoch(2).indices.tolist() == [0, 1, 2]


def test_infobatch_preset_anneals_and_weights_loss():
    diet = DataDiet.infobatch(prune_ratio=0.5, num_epochs=8, task="sequence_classification").setup(8)
    assert [diet.schedule.phase(e) for e in range(8)][-1] == "anneal"
    assert len(diet.begin_epoch(0)) == 8  # nothing scored yet: losses "initialised high"
    feed(diet, range(8), [0.1, 0.1, 0.1, 0.1, 1, 1, 1, 1])
    sel = diet.begin_epoch(1)
    assert len(sel) == 6 and sorted(set(sel.weights.tolist())) == [1.0, 2.0]
    # the weighted loss is the mean of weight * per-example CE
    ids = torch.tensor(sel.indices[:3])
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, 0, 1])
    out = {"logits": logits, "loss": torch.nn.functional.cross_entropy(logits, labels)}
    loss = diet.weighted_loss(ids, out, {"labels": labels})
    ce = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    w = torch.tensor(sel.weights[:3])
    assert loss.item() == pytest.approx((ce * w).mean().item())
    loss.backward()
    assert logits.grad is not None


def test_errors_are_clear():
    with pytest.raises(ValueError, match=r"keep .* \(0, 1\]"):
        DataDiet(keep=0)
    with pytest.raises(ValueError, match="valid scores: .*joint_el2n"):
        DataDiet(score="el2"),
    with pytest.raises(ValueError, match="valid methods"):
        DataDiet(method="magic")
    with pytest.raises(ValueError, match="leave none of the 2 training epochs pruned"):
        DataDiet(keep=0.5, warmup_epochs=3).setup(10, num_epochs=2)
    with pytest.raises(ValueError, match="'el2n' needs logits, labels.*fit this task: .*token_el2n"):
        DataDiet(keep=0.5, num_epochs=2, task="token_classification", score="el2n").setup(4)
    diet = DataDiet(keep=0.5, num_epochs=2, task="sequence_classification", score="el2n").setup(4)
    with pytest.raises(ValueError, match="score 'el2n' needs logits, labels"):
        diet.observe(torch.tensor([0]), ScoreInputs(token_logits=torch.zeros(1, 2, 3), token_labels=torch.zeros(1, 2)))
    other = DataDiet(keep=0.5, num_epochs=2, task="sequence_classification").setup(5)
    diet = DataDiet(keep=0.5, num_epochs=2, task="sequence_classification").setup(4)
    with pytest.raises(ValueError, match="trained on 4 examples, this training set has 5"):
        other.load_state_dict(diet.state_dict())


def test_nan_free_score_names_the_example():
    diet = DataDiet(keep=0.5, num_epochs=2, task="sequence_classification").setup(4)
    diet.begin_epoch(0)
    with pytest.raises(ValueError, match=r"example ids \[3\] in training batch 1 of epoch 0"):  # at the batch
        diet.observe(torch.tensor([2, 3]), ScoreInputs(logits=torch.tensor([[0.0, 1.0], [float("nan"), 0.0]]),
                                                       labels=torch.tensor([0, 1])))
    assert diet.observer.recorder.pending == []  # nothing of that batch was recorded: the state is the one before it


def test_tiny_keep_never_gives_an_empty_selection():
    diet = DataDiet.random(keep=0.001, num_epochs=2).setup(10)
    diet.begin_epoch(0)
    assert len(diet.begin_epoch(1)) == 1


def test_plain_pytorch_loop_trains_on_the_plan():
    """The README's plain-loop example, for real: sampler, begin_epoch, weighted_loss."""
    ds = toy_classification_dataset(64)
    model = tiny_classifier()
    diet = DataDiet(keep=0.5, num_epochs=3, task="sequence_classification", progress=False)
    sampler = diet.sampler(len(ds))
    loader = DataLoader(ds, batch_size=8, sampler=sampler, collate_fn=pad_collate)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    steps, seen = 0, []
    for epoch in range(3):
        diet.begin_epoch(epoch, model=model, dataset=ds, collate_fn=pad_collate)
        model.train()
        for batch in loader:
            ids = batch.pop("example_id")
            seen.append(ids)
            loss = diet.weighted_loss(ids, model(**batch), batch)
            loss.backward()
            opt.step()
            opt.zero_grad()
            steps += 1
    diet.flush()
    assert steps == diet.planned_steps(batch_size=8) == 8 + 4 + 4
    assert [r["kept"] for r in diet.log] == [64, 32, 32]
    kept = diet.kept_matrix()
    assert kept.shape == (3, 64) and kept[0].all() and kept[1].sum() == 32
    assert torch.cat(seen[8:12]).sort().values.tolist() == np.flatnonzero(kept[1]).tolist()
    assert (diet.history.count >= 1).all()


def test_report_writes_json_and_plots(tmp_path):
    import json

    diet = DataDiet(keep=0.5, num_epochs=3, score="loss", rescore="none", epsilon=0.0, smoothing="latest",
                    task="sequence_classification").setup(6)
    diet.begin_epoch(0)
    feed(diet, range(6), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    diet.begin_epoch(1)
    feed(diet, [3, 4, 5], [0.01, 0.02, 0.03])
    diet.begin_epoch(2)
    diet.flush()
    paths = diet.report(tmp_path)
    record = json.loads(paths["json"].read_text())
    assert [e["kept"] for e in record["epochs"]] == [6, 3, 3]
    assert record["summary"]["examples_trained"] == 12 and record["never_pruned"] == 0
    assert paths["data_map"].stat().st_size > 1000 and paths["epochs"].read_bytes()[:4] == b"\x89PNG"


def test_length_buckets_sort_longest_first_and_refuse_empty_batches():
    from datadiet.scoring_pass import length_buckets

    lengths = np.array([3, 9, 3, 5, 9])
    batches = length_buckets(np.arange(5), lengths, batch_size=2)
    assert [b.tolist() for b in batches] == [[1, 4], [3, 0], [2]]  # ties by id
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        length_buckets(np.arange(5), lengths, batch_size=0)


def test_selector_options_are_checked_at_construction():
    for kwargs, message in [(dict(epsilon=2.0), r"epsilon must be a number in \[0, 1\]"),
                            (dict(selector="ccs", num_strata=2.5), "num_strata must be an integer"),
                            (dict(offset=-0.1), r"offset must be a number in \[0, 1\)"),
                            (dict(selector="band", epsilon=0.1), "takes no option epsilon"),
                            (dict(selector_options=[0.1]), "selector_options must be a mapping")]:
        with pytest.raises(ValueError, match=message):
            DataDiet(keep=0.5, **kwargs)
    with pytest.raises(ValueError, match="unknown selector 'bnad'; valid selectors: .*band"):
        DataDiet(keep=0.5, selector="bnad")


def test_settings_that_do_not_apply_are_refused_and_presets_take_overrides():
    with pytest.raises(ValueError, match="method 'full' does not use keep"):
        DataDiet.full(keep=0.2)
    with pytest.raises(ValueError, match="method 'infobatch' does not use keep"):
        DataDiet.infobatch(keep=0.5)
    with pytest.raises(ValueError, match="infobatch takes keep .* or prune_ratio, not both"):
        DataDiet(method="infobatch", keep=0.5, prune_ratio=0.3)
    with pytest.raises(ValueError, match="warmup_epochs must be a whole number"):
        DataDiet(keep=0.5, warmup_epochs=1.5)
    with pytest.raises(ValueError, match="num_epochs must be a whole number"):
        DataDiet(keep=0.5, num_epochs="2")
    with pytest.raises(ValueError, match="leave none of the 3 training epochs pruned"):
        DataDiet(keep=0.5, warmup_epochs=3, num_epochs=3)
    diet = DataDiet.nlu_data_diets(keep=0.3, smoothing="ucb", rescore="stale", seed=4)  # overrides, no clash
    assert (diet.strategy.smoothing, diet.strategy.rescore, diet.seed) == ("ucb", "stale", 4)
    assert "infobatch: prune_ratio=0.5" in repr(DataDiet.infobatch())
    assert "dynamic: keep=0.5" in repr(DataDiet(keep=0.5))


def test_changing_the_number_of_epochs_on_resume_says_so():
    saved = DataDiet(keep=0.5, task="sequence_classification").setup(10, 4).state_dict()
    other = DataDiet(keep=0.5, task="sequence_classification").setup(10, 6)
    with pytest.raises(ValueError, match="planned for 4 epochs, this one for 6: resume with num_train_epochs=4"):
        other.load_state_dict(saved)


def test_nlu_data_diets_ranks_as_the_authors_code_for_each_task():
    from datadiet.strategies import EpochContext

    scores = [np.array([1.4, 0.1, 0.5, 0.5]), np.array([0.3, 0.1, 0.5, 0.5]), np.array([0.3, 0.1, 0.5, 0.5])]
    picks = {}
    for task in ("joint_intent_slot", "sequence_classification"):
        diet = DataDiet.nlu_data_diets(keep=0.25, num_epochs=5, task=task).setup(4)
        for epoch, s in enumerate(scores):
            diet.history.update(np.arange(4), s, epoch)
        ctx = EpochContext(3, diet.schedule, diet.history, diet.selection, seed=0, task=task)
        picks[task] = diet.strategy.select(ctx).indices.tolist()
    # example 0 fell from 1.4 to 0.3: the latest score ranks it below 0.5, EMA + unbiased std (0.34 + 0.37) first
    assert picks == {"joint_intent_slot": [0], "sequence_classification": [2]}
    assert DataDiet.nlu_data_diets(keep=0.5, smoothing="latest").strategy.smoothing == "latest"


def test_a_method_that_rescores_everything_records_no_training_scores():
    diet = DataDiet.nlu_data_diets(keep=0.5, num_epochs=3, task="sequence_classification", score="loss").setup(6)
    diet.begin_epoch(0)
    feed(diet, range(6), np.linspace(0.1, 0.6, 6))
    diet.flush()
    assert (diet.history.count == 0).all()  # its selections rank by eval-mode pass scores only


def test_out_of_range_example_ids_fail_at_the_batch_that_has_them():
    diet = DataDiet(keep=0.5, num_epochs=2, task="sequence_classification", score="loss").setup(48)
    diet.begin_epoch(0)
    with pytest.raises(IndexError, match=r"example ids 1000..1047 are outside the training set's 0..47"):
        feed(diet, range(1000, 1048), np.ones(48))


def test_a_plain_loop_with_shuffled_ids_is_refused_at_its_first_epoch():
    from helpers import pad_collate, tiny_classifier, toy_classification_dataset

    ds = toy_classification_dataset(32).shuffle(seed=0)  # ids no longer equal the row positions
    diet = DataDiet(keep=0.5, num_epochs=2, progress=False).setup(32)
    with pytest.raises(ValueError, match="example_id"):
        diet.begin_epoch(0, model=tiny_classifier(), dataset=ds, collate_fn=pad_collate)
