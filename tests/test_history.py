"""Score history: smoothing against hand computations, forgetting, dynamics, state round-trip."""

import math

import numpy as np
import pytest

from datadiet.ranking import get_ranking
from datadiet.history import ScoreHistory


def test_latest_ema_ucb_by_hand():
    h = ScoreHistory(2, alpha=0.8, ucb_c=1.0)
    for epoch, x in enumerate([1.0, 0.0, 0.5]):
        h.update(np.array([0]), np.array([x]), epoch)
    # EMA: 1 -> .8*0 + .2*1 = .2 -> .8*.5 + .2*.2 = .44
    assert get_ranking("latest")(h)[0] == 0.5
    assert get_ranking("ema")(h)[0] == pytest.approx(0.44)
    # EW variance: v1 = 0; v2 = .2*(0 + .8*1) = .16; v3 = .2*(.16 + .8*(.5-.2)^2) = .0464
    assert get_ranking("ucb")(h)[0] == pytest.approx(0.44 + math.sqrt(0.0464))
    assert np.isnan(get_ranking("ema")(h)[1])
    with pytest.raises(ValueError, match="valid smoothings: ema, forgetting, latest, ucb"):
        get_ranking("median")(h)


def test_ucb_std_term_is_zero_after_first_scoring():
    h = ScoreHistory(1)
    h.update(np.array([0]), np.array([0.7]), 0)
    assert get_ranking("ucb")(h)[0] == pytest.approx(0.7)


def test_forgetting_and_dynamics():
    h = ScoreHistory(3)
    seq = {0: [1, 0, 1, 0], 1: [0, 0, 0, 0], 2: [0, 1, 1, 1]}
    conf = {0: [0.9, 0.3, 0.8, 0.2], 1: [0.1] * 4, 2: [0.4, 0.6, 0.8, 1.0]}
    for e in range(4):
        ids = np.array([0, 1, 2])
        h.update(ids, np.zeros(3), e, confidence=np.array([conf[i][e] for i in ids]),
                 correct=np.array([seq[i][e] for i in ids], bool))
    f = h.forgetting_scores()
    assert f[0] == 2 and np.isposinf(f[1]) and f[2] == 0  # never learned = infinitely hard
    d = h.dynamics()
    assert d["confidence"][2] == pytest.approx(0.7)
    assert d["variability"][2] == pytest.approx(np.std([0.4, 0.6, 0.8, 1.0]))
    assert d["correctness"][0] == pytest.approx(0.5)


def test_nan_scores_raise_naming_ids_and_state_roundtrip():
    h = ScoreHistory(4)
    with pytest.raises(ValueError, match=r"example ids \[2\]"):
        h.update(np.array([1, 2]), np.array([0.1, np.nan]), 0)
    h.update(np.array([1, 3]), np.array([0.1, 0.9]), 0)
    h.update(np.array([1]), np.array([0.4]), 1)
    other = ScoreHistory(4)
    other.load_state_dict(h.state_dict())
    np.testing.assert_array_equal(get_ranking("ucb")(other), get_ranking("ucb")(h))
    np.testing.assert_array_equal(other.age(2), [other.age(2)[0], 1, other.age(2)[2], 2])
    with pytest.raises(ValueError, match="same dataset"):
        ScoreHistory(5).load_state_dict(h.state_dict())


def test_ucb_unbiased_matches_pandas_ewm_as_the_authors_code_computes_it():
    import pandas as pd

    from datadiet.ranking import get_ranking

    rng = np.random.default_rng(0)
    series = rng.uniform(0, 1.4, size=(5, 3))  # 5 observations of 3 examples
    h = ScoreHistory(3, alpha=0.8, ucb_c=1.0)
    for epoch, row in enumerate(series):
        h.update(np.arange(3), row, epoch)
        frame = pd.DataFrame(series[: epoch + 1])
        expected = frame.ewm(alpha=0.8, adjust=False).mean().iloc[-1].to_numpy()
        if epoch >= 1:
            expected = expected + frame.ewm(alpha=0.8, adjust=False).std().iloc[-1].to_numpy()
        np.testing.assert_allclose(get_ranking("ucb_unbiased")(h), expected, rtol=1e-10)
    # after two observations the bias correction multiplies the variance by 1 / (1 - 0.2^2 - 0.8^2) = 3.125
    two = ScoreHistory(1)
    two.update(np.array([0]), np.array([1.0]), 0)
    two.update(np.array([0]), np.array([0.0]), 1)
    biased = get_ranking("ucb")(two)[0] - two.ema[0]
    unbiased = get_ranking("ucb_unbiased")(two)[0] - two.ema[0]
    assert unbiased == pytest.approx(biased * np.sqrt(3.125))
