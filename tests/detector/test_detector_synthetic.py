"""Synthetic data with known answers: false alarms at the nominal rate, power against a small shift,
drift attributed to the feature that moved, concept drift when the model gets worse."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detector.config import Config
from detector.detection import detect_concept_drift, detect_data_drift
from detector.profile import fit_profile

ALPHA = 0.05


def _config(**overrides) -> Config:
    return Config.from_mapping({"project": "synthetic", "timestamp_column": "ts", "alpha": ALPHA, **overrides})


def _upper_limit(trials: int, rate: float) -> int:
    """The largest count of events a correct rate leaves plausible: its binomial 99.9 % quantile."""
    return int(stats.binom.ppf(0.999, trials, rate))


def test_no_shift_raises_drift_at_most_at_the_nominal_rate_after_benjamini_hochberg(make_frame):
    """With nothing drifting, BH bounds the chance of *any* drifted feature by alpha (FWER = FDR under
    the global null). 200 independent reference/current pairs, 10 features each (KS and chi-squared)."""
    config = _config()
    seeds = range(200)
    any_feature = batches = 0
    for seed in seeds:
        reference = make_frame(1000, seed=10_000 + seed, numeric=6, categorical=4, with_target=False)
        current = make_frame(500, seed=20_000 + seed, numeric=6, categorical=4, with_target=False)
        profile, _ = fit_profile(reference, config)
        detected, parameters = detect_data_drift(profile, current, config)
        any_feature += parameters["n_drifted"] > 0
        batches += detected
    limit = _upper_limit(len(seeds), ALPHA)
    assert any_feature <= limit, f"{any_feature} of {len(seeds)} null batches had a drifted feature (limit {limit})"
    assert batches <= any_feature


def test_bonferroni_is_also_within_the_nominal_rate(make_frame):
    config = _config(correction="bonferroni")
    seeds = range(200)
    alarms = 0
    for seed in seeds:
        reference = make_frame(600, seed=30_000 + seed, numeric=3, categorical=2, with_target=False)
        current = make_frame(300, seed=40_000 + seed, numeric=3, categorical=2, with_target=False)
        profile, _ = fit_profile(reference, config)
        alarms += detect_data_drift(profile, current, config)[1]["n_drifted"] > 0
    assert alarms <= _upper_limit(len(seeds), ALPHA)


def test_a_mean_shift_of_a_fifth_of_a_standard_deviation_is_found_at_n_10000(make_frame):
    config = _config()
    seeds = range(50)
    found = feature_found = 0
    for seed in seeds:
        reference = make_frame(10_000, seed=50_000 + seed, numeric=3, categorical=1, with_target=False)
        current = make_frame(10_000, seed=60_000 + seed, numeric=3, categorical=1, shift={"x1": 0.2},
                             with_target=False)
        profile, _ = fit_profile(reference, config)
        detected, parameters = detect_data_drift(profile, current, config)
        found += detected
        feature_found += parameters["features"]["x1"]["drifted"]
    assert feature_found / len(seeds) >= 0.9
    assert found / len(seeds) >= 0.9  # 1 of 4 features = the default drift share threshold of 0.25


def test_a_shift_in_one_categorical_feature_is_attributed_to_that_feature(make_frame):
    config = _config()
    seeds = range(20)
    others_drifted = 0
    for seed in seeds:
        reference = make_frame(5000, seed=70_000 + seed, numeric=3, categorical=4, with_target=False)
        current = make_frame(3000, seed=80_000 + seed, numeric=3, categorical=4,
                             shift={"c2": [0.3, 0.25, 0.15, 0.12, 0.18]}, with_target=False)
        profile, _ = fit_profile(reference, config)
        _, parameters = detect_data_drift(profile, current, config)
        features = parameters["features"]
        assert features["c2"]["drifted"], features["c2"]
        assert features["c2"]["test"] == "chi2"
        ranked = sorted(features, key=lambda name: features[name]["p_value"])
        assert ranked[0] == "c2"
        assert features["c2"]["effect_size"] == max(features[name]["effect_size"] for name in ("c0", "c1", "c2", "c3"))
        others_drifted += sum(result["drifted"] for name, result in features.items() if name != "c2")
    assert others_drifted <= 3  # 120 null features across the seeds, BH at 0.05


def test_distance_tests_stay_below_their_thresholds_without_shift_and_cross_them_with_one(make_frame):
    config = _config(tests={"numeric": "wasserstein", "categorical": "psi"},
                     features={"x0": "psi", "x1": "jensenshannon", "x2": "wasserstein", "c0": "psi",
                               "c1": "jensenshannon"})
    reference = make_frame(20_000, seed=1, with_target=False)
    same = make_frame(20_000, seed=2, with_target=False)
    moved = make_frame(20_000, seed=3, shift={"x0": 1.0, "x1": 1.0, "x2": 1.0, "c0": [0.1, 0.1, 0.1, 0.2, 0.5],
                                              "c1": [0.1, 0.1, 0.1, 0.2, 0.5]}, with_target=False)
    profile, _ = fit_profile(reference, config)
    _, quiet = detect_data_drift(profile, same, config)
    _, loud = detect_data_drift(profile, moved, config)
    for name in ("x0", "x1", "x2", "c0", "c1"):
        assert quiet["features"][name]["p_value"] is None and quiet["features"][name]["p_value_adjusted"] is None
        assert not quiet["features"][name]["drifted"], quiet["features"][name]
        assert loud["features"][name]["drifted"], loud["features"][name]
    assert loud["features"]["x2"]["statistic"] == pytest.approx(1.0, abs=0.05)  # 1 SD shift, normalised
    assert loud["features"]["x0"]["threshold"] == 0.2 and loud["features"]["x1"]["threshold"] == 0.1


def test_concept_drift_when_accuracy_drops_and_not_when_it_holds(make_frame):
    config = _config(label="label", prediction="prediction", task="classification")
    reference = make_frame(10_000, seed=90_001)
    profile, _ = fit_profile(reference, config)
    assert profile["performance"]["accuracy"] == pytest.approx(0.8, abs=0.02)

    detected, parameters = detect_concept_drift(profile, make_frame(4000, seed=90_002, shift={"accuracy": 0.74}),
                                                config)
    assert detected
    assert parameters["metric"] == "accuracy"
    assert parameters["delta"] == pytest.approx(-0.06, abs=0.02)
    assert parameters["ci_low"] < parameters["delta"] < parameters["ci_high"] < 0
    assert parameters["confidence"] == 0.95
    assert set(parameters["label_shift"]) >= {"test", "statistic", "p_value", "drifted"}
    assert set(parameters["prediction_shift"]) >= {"test", "statistic", "p_value", "drifted"}



def test_concept_drift_false_alarms_stay_at_the_one_sided_rate_of_the_interval(make_frame):
    # Every seed needs a reference of its own: batches tested against one reference share its luck.
    config = _config(label="label", prediction="prediction", task="classification", features=["x0"])
    seeds = range(100)
    alarms = 0
    for seed in seeds:
        profile, _ = fit_profile(make_frame(2000, seed=91_000 + seed, numeric=1, categorical=0), config)
        detected, _ = detect_concept_drift(profile, make_frame(1000, seed=92_000 + seed, numeric=1, categorical=0),
                                           config)
        alarms += detected
    assert alarms <= _upper_limit(len(seeds), 0.025)  # one side of a 95 % interval


def test_concept_drift_for_regression_with_f1_and_positive_label_variants(make_frame):
    reference = make_frame(5000, seed=5)
    reference["y"] = reference["x0"] * 2 + np.random.default_rng(6).normal(0, 0.5, 5000)
    reference["y_hat"] = reference["x0"] * 2
    current = make_frame(3000, seed=7)
    current["y"] = current["x0"] * 2 + np.random.default_rng(8).normal(0, 0.8, 3000)
    current["y_hat"] = current["x0"] * 2
    config = _config(label="y", prediction="y_hat", concept={"metric": "rmse"}, ignore=["label", "prediction"])
    profile, _ = fit_profile(reference, config)
    assert profile["task"] == "regression"
    detected, parameters = detect_concept_drift(profile, current, config)
    assert detected and parameters["metric"] == "rmse" and parameters["ci_low"] > 0
    assert parameters["label_shift"]["test"] == "ks"

    f1 = _config(label="label", prediction="prediction", concept={"metric": "f1", "positive_label": "1"})
    profile, _ = fit_profile(make_frame(5000, seed=9), f1)
    detected, parameters = detect_concept_drift(profile, make_frame(3000, seed=10, shift={"accuracy": 0.6}), f1)
    assert detected and parameters["metric"] == "f1" and parameters["delta"] < -0.1
