"""The detector's statistics agree with scipy's reference implementations on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

import detector.statistics as statistics


def _samples(seed: int):
    """Pairs of samples: continuous, shifted, heavily tied (discrete) and of very different sizes."""
    rng = np.random.default_rng(seed)
    yield rng.normal(size=300), rng.normal(0.2, 1.3, size=250)
    yield rng.integers(0, 5, size=400).astype(float), rng.integers(0, 6, size=90).astype(float)
    yield rng.exponential(size=7), rng.exponential(size=1000)
    yield np.full(20, 3.0), np.array([3.0] * 5 + [4.0] * 5)


@pytest.mark.parametrize("seed", range(5))
def test_ks_statistic_and_p_value_equal_ks_2samp(seed):
    for reference, current in _samples(seed):
        reference, current = np.sort(reference), np.sort(current)
        expected = stats.ks_2samp(reference, current)
        assert statistics.ks_statistic(reference, current) == pytest.approx(expected.statistic, abs=1e-12)
        statistic, p_value = statistics.ks_test(reference, current)
        assert statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


def test_ks_on_large_samples_uses_scipys_asymptotic_p_value():
    rng = np.random.default_rng(7)
    reference = np.sort(rng.normal(size=10_000))  # the stored sample's size
    current = np.sort(rng.normal(0.02, 1, size=200_000))
    expected = stats.ks_2samp(reference, current)  # auto → asymptotic at this size
    statistic, p_value = statistics.ks_test(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)
    vectorised = statistics.ks_p_value([statistic, 0.01], [10_000, 10_000], [200_000, 200_000])
    assert vectorised[0] == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_wasserstein_equals_wasserstein_distance(seed):
    for reference, current in _samples(seed):
        expected = stats.wasserstein_distance(reference, current)
        assert statistics.wasserstein(np.sort(reference), np.sort(current)) == pytest.approx(expected, rel=1e-9,
                                                                                              abs=1e-12)


def test_chi2_homogeneity_equals_chi2_contingency_without_continuity_correction():
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 200, size=(6, 8))
    current = rng.integers(0, 80, size=(6, 8))
    reference[0, 5] = current[0, 5] = 0  # a category absent from both: left out of the table
    reference[1, 6:] = current[1, 6:] = 0  # padding
    current[2, 7] = 0
    reference[3] = [0, 0, 0, 0, 0, 0, 0, 50]  # two categories: one degree of freedom
    current[3] = [0, 0, 0, 0, 0, 0, 10, 30]
    statistic, p_value, degrees = statistics.chi2_homogeneity(reference, current)
    for row in range(6):
        keep = (reference[row] + current[row]) > 0
        expected = stats.chi2_contingency(np.stack([reference[row][keep], current[row][keep]]), correction=False)
        assert statistic[row] == pytest.approx(expected.statistic, rel=1e-12)
        assert p_value[row] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
        assert degrees[row] == expected.dof


def test_chi2_homogeneity_approaches_chisquare_when_the_reference_is_huge():
    # With a reference of 10^9 rows, its proportions are practically exact: a goodness-of-fit test.
    proportions = np.array([0.5, 0.3, 0.2])
    current = np.array([520, 270, 210])
    statistic, p_value, _ = statistics.chi2_homogeneity(proportions * 1e9, current)
    expected = stats.chisquare(current, proportions * current.sum())
    assert statistic[0] == pytest.approx(expected.statistic, rel=1e-5)
    assert p_value[0] == pytest.approx(expected.pvalue, rel=1e-4)


def test_jensen_shannon_equals_scipy_base_2():
    rng = np.random.default_rng(5)
    reference = rng.integers(0, 100, size=(5, 9)).astype(float)
    current = rng.integers(0, 100, size=(5, 9)).astype(float)
    reference[0, 4] = 0
    current[1, 2] = 0
    reference[2, 7:] = current[2, 7:] = 0
    values = statistics.jensen_shannon(reference, current)
    for row in range(5):
        assert values[row] == pytest.approx(jensenshannon(reference[row], current[row], base=2), abs=1e-12)
    assert statistics.jensen_shannon([[1, 0]], [[0, 1]])[0] == pytest.approx(1.0)
    assert statistics.jensen_shannon([[3, 2]], [[6, 4]])[0] == pytest.approx(0.0, abs=1e-7)


def test_psi_follows_its_definition_with_epsilon_for_empty_bins():
    reference = np.array([[50, 30, 20, 0]])
    current = np.array([[40, 30, 20, 10]])
    p = np.array([0.5, 0.3, 0.2, statistics.PSI_EPSILON])
    q = np.array([0.4, 0.3, 0.2, 0.1])
    assert statistics.psi(reference, current)[0] == pytest.approx(np.sum((q - p) * np.log(q / p)))
    assert statistics.psi([[1, 2, 0]], [[2, 4, 0]])[0] == pytest.approx(0.0)  # padding contributes nothing


def test_quantile_bins_count_like_right_closed_intervals():
    rng = np.random.default_rng(11)
    values = np.sort(np.round(rng.normal(size=1000), 1))
    edges = statistics.quantile_edges(values, 10)
    assert np.all(np.diff(edges) > 0) and edges[-1] < values.max()
    counts = statistics.bin_counts(values, edges)
    bounds = [-np.inf, *edges, np.inf]
    expected = [np.sum((values > low) & (values <= high)) for low, high in zip(bounds[:-1], bounds[1:], strict=True)]
    assert counts.tolist() == expected
    discrete = np.sort(rng.integers(0, 3, size=500).astype(float))
    assert len(statistics.quantile_edges(discrete, 10)) <= 2  # at most one bin per value


def test_benjamini_hochberg_equals_scipy_false_discovery_control():
    rng = np.random.default_rng(2)
    p_values = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.001, size=10), [0.0, 1.0]])
    adjusted = statistics.adjust_p_values(p_values, "benjamini-hochberg")
    assert adjusted == pytest.approx(stats.false_discovery_control(p_values, method="bh"), rel=1e-12)
    assert statistics.adjust_p_values(p_values, "bonferroni") == pytest.approx(np.minimum(p_values * 52, 1))
    assert statistics.adjust_p_values(p_values, "none") == pytest.approx(p_values)
    assert statistics.adjust_p_values([], "benjamini-hochberg").size == 0
    with pytest.raises(ValueError, match="unknown correction"):
        statistics.adjust_p_values(p_values, "holm")


def test_classification_metrics_from_a_confusion_matrix():
    classes = ["a", "b", "c"]
    labels = np.array(list("aaabbbcccc"), dtype=object)
    predictions = np.array(list("aabbbcccca"), dtype=object)
    confusion = statistics.confusion_matrix(labels, predictions, classes)
    assert confusion.tolist() == [[2, 1, 0], [0, 2, 1], [1, 0, 3]]
    assert statistics.classification_metric(confusion, "accuracy") == pytest.approx(0.7)
    # per class F1 = 2tp / (2tp + fp + fn): a 4/6, b 4/6, c 6/8
    assert statistics.classification_metric(confusion, "f1") == pytest.approx((4 / 6 + 4 / 6 + 6 / 8) / 3)
    assert statistics.classification_metric(confusion, "f1", positive=2) == pytest.approx(6 / 8)
    stacked = np.stack([confusion, np.eye(3, dtype=int) * 5])
    assert statistics.classification_metric(stacked, "accuracy").tolist() == pytest.approx([0.7, 1.0])


def test_error_groups_give_exact_mae_and_rmse():
    errors = np.random.default_rng(4).normal(size=5000)
    for max_groups in (10_000, 100):
        groups = statistics.error_groups(errors, max_groups)
        assert sum(groups["counts"]) == 5000
        assert statistics.regression_metric(groups, "mae") == pytest.approx(np.mean(np.abs(errors)), rel=1e-12)
        assert statistics.regression_metric(groups, "rmse") == pytest.approx(np.sqrt(np.mean(errors**2)), rel=1e-12)


def test_bootstrap_of_the_metric_change_is_seeded_and_centred():
    rng = np.random.default_rng(0)
    reference = statistics.confusion_matrix(np.array(list("ab" * 500), dtype=object),
                                            np.array(list("ab" * 450 + "ba" * 50), dtype=object), ["a", "b"])
    first = statistics.bootstrap_delta("accuracy", reference, reference, 500, np.random.default_rng(1))
    second = statistics.bootstrap_delta("accuracy", reference, reference, 500, np.random.default_rng(1))
    assert np.array_equal(first, second)
    low, high = statistics.percentile_interval(first, 0.95)
    assert low < 0 < high
    # The bootstrap SD of a difference of two accuracies of 1000 rows each: sqrt(2 * .9 * .1 / 1000).
    assert np.std(first) == pytest.approx(np.sqrt(2 * 0.9 * 0.1 / 1000), rel=0.15)
    groups = statistics.error_groups(rng.normal(size=2000))
    worse = statistics.error_groups(rng.normal(scale=1.3, size=2000))
    deltas = statistics.bootstrap_delta("rmse", groups, worse, 500, np.random.default_rng(2))
    assert statistics.percentile_interval(deltas, 0.95)[0] > 0
