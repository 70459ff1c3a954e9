"""The drift statistics: pure functions of arrays, no I/O, no configuration objects.

Numeric features work on *sorted* arrays: the reference side is the sorted sample stored in the
profile, the current side is sorted once per run, and the Kolmogorov–Smirnov statistic, the
Wasserstein distance and the quantile-bin counts are all read off those sorted arrays. Sorting a
million float64 values takes about 20 ms; comparing two sorted arrays is a few binary searches.

Distributions over bins or categories are handled as count matrices of shape (features, bins),
zero-padded on the right, so PSI, Jensen–Shannon and chi-squared are computed for every feature in
one vectorised expression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats
from scipy.special import xlogy

__all__ = [
    "CORRECTIONS",
    "PSI_EPSILON",
    "EXACT_KS_MAX_N",
    "adjust_p_values",
    "bin_counts",
    "bootstrap_delta",
    "chi2_homogeneity",
    "classification_metric",
    "confusion_matrix",
    "cramers_v",
    "error_groups",
    "glass_delta",
    "jensen_shannon",
    "ks_p_value",
    "ks_statistic",
    "ks_test",
    "pad_counts",
    "percentile_interval",
    "psi",
    "quantile_edges",
    "wasserstein",
]

#: Proportions of zero are replaced by this in PSI, whose log ratio is otherwise infinite.
PSI_EPSILON = 1e-4
#: scipy's ks_2samp computes exact p-values when both samples have at most this many values.
EXACT_KS_MAX_N = 10_000
CORRECTIONS = ("benjamini-hochberg", "bonferroni", "none")


# --------------------------------------------------------------------------------------
# Numeric features: sorted arrays
# --------------------------------------------------------------------------------------


def ks_statistic(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> float:
    """The two-sample Kolmogorov–Smirnov statistic D = sup |F_ref − F_cur|, from two sorted arrays.

    Both empirical CDFs are right-continuous step functions, so the supremum is reached at a data
    point. Between two distinct reference values F_ref is constant while F_cur only grows, so it is
    enough to compare, at each distinct reference value u, F_ref(u) with F_cur(u) and the left
    limits F_ref(u−) with F_cur(u−). Those need the current sample's counts at the m reference
    values only: 2·m binary searches instead of merging the samples.
    """
    m, n = reference_sorted.size, current_sorted.size
    if m == 0 or n == 0:
        raise ValueError("the Kolmogorov–Smirnov statistic needs two non-empty samples")
    # Searching the reference in itself gives the right counts for tied values too.
    reference_le = np.searchsorted(reference_sorted, reference_sorted, side="right")
    reference_lt = np.searchsorted(reference_sorted, reference_sorted, side="left")
    current_le = np.searchsorted(current_sorted, reference_sorted, side="right")
    current_lt = np.searchsorted(current_sorted, reference_sorted, side="left")
    right = np.abs(reference_le / m - current_le / n)
    left = np.abs(reference_lt / m - current_lt / n)
    # Past the largest reference value F_ref = 1 and F_cur grows to 1: its largest gap is at that value.
    return float(max(right.max(), left.max()))


def ks_p_value(statistic: np.ndarray | float, m: np.ndarray | int, n: np.ndarray | int) -> np.ndarray:
    """Asymptotic two-sided p-values, exactly as scipy's ks_2samp(method="asymp") computes them.

    Vectorised over features: scipy's ``kstwo.sf(D, round(m·n / (m + n)))``.
    """
    m = np.asarray(m, dtype=float)
    n = np.asarray(n, dtype=float)
    effective_n = np.round(m * n / (m + n))
    return np.clip(stats.kstwo.sf(np.asarray(statistic, dtype=float), effective_n), 0.0, 1.0)


def ks_test(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> tuple[float, float]:
    """(D, p-value) of the two-sample Kolmogorov–Smirnov test, the way scipy's ks_2samp does it.

    When both samples hold at most EXACT_KS_MAX_N values scipy's exact p-value is used (cheap at
    that size); otherwise the statistic comes from ``ks_statistic`` and the p-value is asymptotic.
    """
    m, n = reference_sorted.size, current_sorted.size
    if max(m, n) <= EXACT_KS_MAX_N:
        result = stats.ks_2samp(reference_sorted, current_sorted)
        return float(result.statistic), float(result.pvalue)
    statistic = ks_statistic(reference_sorted, current_sorted)
    return statistic, float(ks_p_value(statistic, m, n))


def wasserstein(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> float:
    """The 1-Wasserstein (earth mover's) distance between two samples, from sorted arrays.

    Written as the area between the quantile functions, W = ∫₀¹ |Q_a(t) − Q_b(t)| dt, where a is
    the larger sample (n values) and b the smaller (m ≤ n). In units of 1/(m·n) every breakpoint
    is an integer: Q_a is constant on each step (j·m, (j+1)·m] and Q_b jumps at k·n. As 1/m ≥ 1/n,
    Q_b jumps at most once inside a step, and does so in at most m − 1 steps. So: take Q_b at the
    start of every step (one ``repeat``), then correct the few steps it jumps in. Exact, O(n), and
    the same number as scipy's wasserstein_distance (which integrates |F_a − F_b|) up to rounding.
    """
    if reference_sorted.size == 0 or current_sorted.size == 0:
        raise ValueError("the Wasserstein distance needs two non-empty samples")
    fine, coarse = ((current_sorted, reference_sorted) if current_sorted.size >= reference_sorted.size
                    else (reference_sorted, current_sorted))
    n, m = fine.size, coarse.size
    # Step j starts in coarse piece k when k·n <= j·m < (k+1)·n, i.e. from step ceil(k·n/m) on.
    first_steps = (np.arange(m + 1, dtype=np.int64) * n + m - 1) // m
    coarse_at_start = np.repeat(coarse, np.diff(first_steps))
    total = m * np.abs(coarse_at_start - fine).sum()
    # A jump k·n strictly inside step j = k·n // m: the part after it sees coarse[k], not coarse[k − 1].
    jumps = np.arange(1, m, dtype=np.int64) * n
    inside = jumps % m != 0
    k = np.flatnonzero(inside) + 1
    j = jumps[inside] // m
    after = ((j + 1) * m - jumps[inside]).astype(float)
    total += np.dot(after, np.abs(coarse[k] - fine[j]) - np.abs(coarse[k - 1] - fine[j]))
    return float(total / (m * n))


def quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Cut points between ``bins`` reference quantile bins, duplicates and the maximum dropped.

    Bins are right-closed: (−inf, e₁], (e₁, e₂], …, (e_k, +inf). Discrete features get fewer bins
    (one per distinct value at most) instead of empty ones.
    """
    if values.size == 0:
        return np.empty(0)
    cuts = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    cuts = np.unique(cuts)
    return cuts[cuts < values.max()]


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many of the sorted values fall in each right-closed bin defined by ``edges``."""
    at_or_below = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], at_or_below, [sorted_values.size])))


def glass_delta(reference_mean: float, reference_std: float, current_mean: float) -> float:
    """The mean shift in reference standard deviations (Glass's Δ); the raw shift when the SD is 0."""
    shift = current_mean - reference_mean
    return shift / reference_std if reference_std > 0 else shift


# --------------------------------------------------------------------------------------
# Binned and categorical distributions: count matrices
# --------------------------------------------------------------------------------------


def pad_counts(rows: Sequence[Sequence[float]]) -> np.ndarray:
    """Stack count vectors of different lengths into a (len(rows), longest) matrix, padded with 0."""
    width = max((len(row) for row in rows), default=0)
    matrix = np.zeros((len(rows), width))
    for index, row in enumerate(rows):
        matrix[index, : len(row)] = row
    return matrix


def _proportions(counts: np.ndarray) -> np.ndarray:
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / totals, 0.0)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = PSI_EPSILON) -> np.ndarray:
    """Population stability index per row: Σ (q − p)·ln(q / p), zero proportions set to ``epsilon``.

    Bins empty on both sides (padding included) contribute nothing.
    """
    p = _proportions(reference_counts)
    q = _proportions(current_counts)
    both_empty = (p == 0) & (q == 0)
    p = np.where(p == 0, epsilon, p)
    q = np.where(q == 0, epsilon, q)
    terms = np.where(both_empty, 0.0, (q - p) * np.log(q / p))
    return terms.sum(axis=1)


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray, base: float = 2.0) -> np.ndarray:
    """Jensen–Shannon distance per row (the square root of the divergence), base 2: in [0, 1].

    Matches scipy.spatial.distance.jensenshannon(p, q, base=2) on each row.
    """
    p = _proportions(reference_counts)
    q = _proportions(current_counts)
    mixture = (p + q) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        divergence = (np.sum(xlogy(p, p) - xlogy(p, mixture), axis=1)
                      + np.sum(xlogy(q, q) - xlogy(q, mixture), axis=1)) / 2
    divergence = np.maximum(divergence / math.log(base), 0.0)
    return np.sqrt(divergence)


def chi2_homogeneity(reference_counts: np.ndarray, current_counts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson's chi-squared test that two samples share one categorical distribution, per row.

    The 2 × k contingency test (scipy's chi2_contingency with correction=False), not a goodness-of-
    fit test against the reference proportions: the reference is itself a sample, and treating its
    proportions as exact would inflate the false-alarm rate when both samples are of similar size.
    Categories absent from both samples (and padding) are left out of the table and of the degrees
    of freedom. Returns (statistic, p-value, degrees of freedom); a table with a single category
    has statistic 0, p-value 1 and 0 degrees of freedom.
    """
    observed = np.stack([np.atleast_2d(reference_counts), np.atleast_2d(current_counts)], axis=1).astype(float)
    row_totals = observed.sum(axis=2, keepdims=True)  # (features, 2, 1)
    column_totals = observed.sum(axis=1, keepdims=True)  # (features, 1, k)
    grand_total = row_totals.sum(axis=1, keepdims=True)  # (features, 1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = row_totals * column_totals / grand_total
        cells = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0)
    statistic = cells.sum(axis=(1, 2))
    categories = (column_totals[:, 0, :] > 0).sum(axis=1)
    degrees = np.maximum(categories - 1, 0)
    p_value = np.where(degrees > 0, stats.chi2.sf(statistic, np.maximum(degrees, 1)), 1.0)
    return statistic, p_value, degrees


def cramers_v(statistic: np.ndarray | float, reference_total: np.ndarray | float,
              current_total: np.ndarray | float) -> np.ndarray:
    """Cramér's V of a 2 × k table: sqrt(χ² / N), since min(rows, columns) − 1 = 1."""
    total = np.asarray(reference_total, dtype=float) + np.asarray(current_total, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.sqrt(np.asarray(statistic, dtype=float) / total), 0.0)


# --------------------------------------------------------------------------------------
# Multiple testing
# --------------------------------------------------------------------------------------


def adjust_p_values(p_values: np.ndarray | Sequence[float], method: str = "benjamini-hochberg") -> np.ndarray:
    """Adjusted p-values for testing every feature at once.

    ``benjamini-hochberg``: the step-up false-discovery-rate adjustment (monotone, as
    statsmodels' ``fdr_bh``); when no feature drifted it also bounds the chance of any false alarm
    by the level. ``bonferroni``: p·k, capped at 1 (family-wise error). ``none``: unchanged.
    """
    p = np.asarray(p_values, dtype=float)
    count = p.size
    if method == "none" or count == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * count, 1.0)
    if method != "benjamini-hochberg":
        raise ValueError(f"unknown correction {method!r}; choose one of {', '.join(CORRECTIONS)}")
    order = np.argsort(p)
    scaled = p[order] * count / np.arange(1, count + 1)
    # The smallest scaled value at this rank or any larger one keeps the adjustment monotone.
    monotone = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(count)
    adjusted[order] = np.minimum(monotone, 1.0)
    return adjusted


# --------------------------------------------------------------------------------------
# Model performance (concept drift)
# --------------------------------------------------------------------------------------


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """counts[i, j] = rows whose label is classes[i] and prediction classes[j] (others are ignored)."""
    import pandas as pd  # Categorical maps values to class positions in C, not per row in Python

    k = len(classes)
    label_index = pd.Categorical(np.asarray(labels, dtype=object), categories=list(classes)).codes.astype(np.int64)
    prediction_index = pd.Categorical(np.asarray(predictions, dtype=object),
                                      categories=list(classes)).codes.astype(np.int64)
    keep = (label_index >= 0) & (prediction_index >= 0)
    flat = label_index[keep] * k + prediction_index[keep]
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def classification_metric(confusion: np.ndarray, metric: str, positive: int | None = None) -> np.ndarray:
    """Accuracy or F1 of one confusion matrix (k, k) or a stack of them (B, k, k).

    F1 is the positive class's F1 when ``positive`` (a class index) is given, otherwise the macro
    average over the classes that occur as a label or a prediction (as scikit-learn's
    ``f1_score(average="macro")``); a class with no true positive has F1 0.
    """
    confusion = np.asarray(confusion, dtype=float)
    total = confusion.sum(axis=(-2, -1))
    true_positive = np.diagonal(confusion, axis1=-2, axis2=-1)
    if metric == "accuracy":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, true_positive.sum(axis=-1) / total, np.nan)
    if metric != "f1":
        raise ValueError(f"unknown classification metric {metric!r}")
    predicted = confusion.sum(axis=-2)
    actual = confusion.sum(axis=-1)
    denominator = predicted + actual  # = 2·tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(denominator > 0, 2 * true_positive / denominator, 0.0)
    if positive is not None:
        return per_class[..., positive]
    present = denominator > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present.any(axis=-1), (per_class * present).sum(axis=-1) / present.sum(axis=-1), np.nan)


def error_groups(errors: np.ndarray, max_groups: int = 1000) -> dict[str, list[float]]:
    """Regression errors summarised for the bootstrap: up to ``max_groups`` equal-count groups of
    the sorted absolute errors, each with its size and the mean of |e| and of e² in it.

    With no more errors than groups every error is its own group and the bootstrap is exact; past
    that it ignores the spread inside a group (1/1000 of the errors), which is negligible for a CI.
    The same groups serve MAE and RMSE because e² is ordered like |e|.
    """
    absolute = np.sort(np.abs(np.asarray(errors, dtype=float)))
    groups = np.array_split(absolute, min(max_groups, absolute.size)) if absolute.size else []
    return {
        "counts": [int(group.size) for group in groups],
        "abs_mean": [float(group.mean()) for group in groups],
        "sq_mean": [float(np.mean(group**2)) for group in groups],
    }


def _regression_value(weights: np.ndarray, groups: dict[str, list[float]], metric: str) -> np.ndarray:
    totals = weights.sum(axis=-1)
    if metric == "mae":
        return weights @ np.asarray(groups["abs_mean"]) / totals
    if metric == "rmse":
        return np.sqrt(weights @ np.asarray(groups["sq_mean"]) / totals)
    raise ValueError(f"unknown regression metric {metric!r}")


def regression_metric(groups: dict[str, list[float]], metric: str) -> float:
    """MAE or RMSE of the errors summarised by ``error_groups`` (exact: group means are exact)."""
    return float(_regression_value(np.asarray(groups["counts"], dtype=float), groups, metric))


def bootstrap_delta(metric: str, reference: np.ndarray | dict, current: np.ndarray | dict, replicates: int,
                    rng: np.random.Generator, positive: int | None = None) -> np.ndarray:
    """``replicates`` bootstrap values of metric(current) − metric(reference).

    Resampling n rows with replacement is the same as drawing n cells of the confusion matrix (or
    n error groups) from a multinomial with the observed proportions, so each side costs one
    multinomial draw of shape (replicates, cells), whatever the number of rows. ``reference`` and
    ``current`` are confusion matrices (classification) or ``error_groups`` dicts (regression).
    """

    def resample(side):
        if isinstance(side, dict):
            counts = np.asarray(side["counts"], dtype=float)
            weights = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=replicates)
            return _regression_value(weights.astype(float), side, metric)
        cells = np.asarray(side, dtype=float)
        total = int(cells.sum())
        draws = rng.multinomial(total, cells.ravel() / total, size=replicates).reshape((replicates, *cells.shape))
        return classification_metric(draws, metric, positive)

    return resample(current) - resample(reference)


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of bootstrap values (percentile method), NaNs ignored."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)
