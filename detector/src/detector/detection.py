"""Testing a current batch against a reference profile with the registry's drift tests (no I/O of its own).

``detect_data_drift`` and ``detect_concept_drift`` return ``(detected, parameters)`` in the layout
the dashboard reads (the same as sandbox/demo_data.py):

    data_drift.parameters = {drift_share, n_features, n_drifted, correction, alpha, threshold,
                             features: {name: {test, statistic, p_value, p_value_adjusted,
                                               effect_size, threshold, drifted, ...}}}
    concept_drift.parameters = {metric, reference, current, delta, ci_low, ci_high, confidence,
                                label_shift: {...}, prediction_shift: {...}, ...}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from . import statistics
from .config import CONCEPT_METRICS, Config, default_metric
from .errors import ConfigError, DataError
from .profile import category_counts, category_names, numeric_values
from .registry import BUILT_IN, Column, ColumnTest, Registry, registry_for

__all__ = ["compare_columns", "detect_concept_drift", "detect_data_drift", "required_columns"]


def required_columns(profile: Mapping) -> list[str]:
    """The feature columns a current batch must have."""
    return list(profile["features"])


# --------------------------------------------------------------------------------------
# Column comparisons
# --------------------------------------------------------------------------------------


def compare_columns(profiles: Mapping[str, Mapping], columns: Mapping[str, pd.Series], tests: Mapping[str, str],
                    scales: Mapping[str, float] | None = None,
                    progress: Callable[[str], None] | None = None,
                    registry: Registry | None = None) -> dict[str, dict]:
    """Test each current column against its reference profile with the named test of ``registry``.

    Returns name → {type, test, statistic, p_value (None for distances), effect_size, n_current,
    missing_share}. Each column is prepared once (numeric: sorted; categorical: counted over the
    profile's categories), then every test computes all the columns that use it in one call.
    """
    registry = registry or BUILT_IN
    results: dict[str, dict] = {}
    prepared: dict[str, Column] = {}
    for name, profile in profiles.items():
        kind = profile["type"]
        test = registry.get(tests[name])
        if not isinstance(test, ColumnTest):
            raise ConfigError(f"feature {name!r}: {test.name} is a plug-in detector, not a column test "
                              f"({', '.join(registry.names(kind))})")
        if not test.applies_to(kind):
            raise ConfigError(f"feature {name!r} is {kind} in the fitted profile; {test.name} does not apply to it")
        values = columns[name]
        if kind == "numeric":
            current, missing = numeric_values(values, name)
            if current.size == 0:
                raise DataError(f"column {name!r} has no values in the current batch ({missing} missing)")
            current = np.sort(current)
            prepared[name] = Column(name, kind, profile, reference=np.asarray(profile["sample"], dtype=float),
                                    current=current, scale=(scales or {}).get(name, profile["std"]))
            result = {"type": kind, "test": test.name, "statistic": None, "p_value": None,
                      "effect_size": statistics.glass_delta(profile["mean"], profile["std"], float(current.mean())),
                      "n_current": int(current.size), "missing_share": missing / (missing + current.size)}
        else:
            counts, missing = category_counts(values)
            total = sum(counts.values())
            if total == 0:
                raise DataError(f"column {name!r} has no values in the current batch ({missing} missing)")
            known = profile["frequencies"]
            reference_counts = [*known.values(), profile.get("other", 0)]
            current_counts = [counts.get(category, 0) for category in known]
            current_counts.append(total - sum(current_counts))  # unknown to the reference: OTHER
            prepared[name] = Column(name, kind, profile, reference_counts=reference_counts,
                                    current_counts=current_counts)
            result = {"type": kind, "test": test.name, "statistic": None, "p_value": None, "effect_size": None,
                      "n_current": int(total), "missing_share": missing / (missing + total),
                      "new_categories": _new_categories(counts, known)}
        results[name] = result
        if progress:
            progress(name)

    # Cramér's V of every categorical column needs its chi-squared statistic: one padded matrix for all.
    categorical = [name for name, column in prepared.items() if column.kind == "categorical"]
    if categorical:
        reference = statistics.pad_counts([prepared[name].reference_counts for name in categorical])
        current = statistics.pad_counts([prepared[name].current_counts for name in categorical])
        chi2, p_value, degrees = statistics.chi2_homogeneity(reference, current)
        effect = statistics.cramers_v(chi2, reference.sum(axis=1), current.sum(axis=1))
        for index, name in enumerate(categorical):
            results[name]["effect_size"] = float(effect[index])
            prepared[name] = replace(prepared[name], contingency=(chi2[index], p_value[index], degrees[index]))

    by_test: dict[str, list[str]] = {}
    for name, result in results.items():
        by_test.setdefault(result["test"], []).append(name)
    for test_name, names in by_test.items():
        outputs = registry.get(test_name).compute([prepared[name] for name in names])
        for name, output in zip(names, outputs, strict=True):
            results[name].update(output)
    return results


def _new_categories(counts: Mapping[str, int], known: Mapping[str, int], limit: int = 10) -> list[str]:
    """Up to ``limit`` current categories the profile does not list, most frequent first."""
    unseen = sorted(((count, name) for name, count in counts.items() if name not in known), reverse=True)
    return [name for _, name in unseen[:limit]]


def _decide(result: dict, threshold: float, adjusted: float | None, gives_p_value: bool) -> dict:
    result["threshold"] = threshold
    if gives_p_value:
        result["p_value_adjusted"] = adjusted
        result["drifted"] = bool(adjusted <= threshold)
    else:
        result["p_value_adjusted"] = None
        result["drifted"] = bool(result["statistic"] > threshold)
    return result


# --------------------------------------------------------------------------------------
# Data drift
# --------------------------------------------------------------------------------------


def detect_data_drift(profile: Mapping, current: pd.DataFrame, config: Config,
                      progress: Callable[[str], None] | None = None, *, registry: Registry | None = None,
                      reference_sample: Callable[[], pd.DataFrame] | None = None) -> tuple[bool, dict]:
    """(detected, parameters) of the batch's data drift, by the tests of ``registry``.

    ``registry`` defaults to ``registry_for(config)``: the built-in tests, and the plug-in detector
    when ``config.detector`` names one. A plug-in gets ``reference_sample()`` (the row sample stored
    by fit), the whole batch and the configuration, and its ``(detected, parameters)`` is the answer.

    Otherwise each feature is tested with its configured column test; the p-values (KS,
    chi-squared) are adjusted together for multiple testing (``config.correction``) and a feature
    drifts when its adjusted p-value is at most ``alpha``; a distance (PSI, Jensen–Shannon,
    Wasserstein) drifts when it is above its threshold. The batch drifts when at least one feature
    drifted and the share of drifted features reaches ``drift_share_threshold``.
    """
    registry = registry or registry_for(config)
    if config.detector:
        plugin = registry.get(config.detector)
        if reference_sample is None:
            raise ConfigError(f"detector {config.detector}: a plug-in needs the reference row sample")
        return plugin(reference_sample(), current, config.to_dict())
    features = profile["features"]
    if current.empty:
        raise DataError("the current batch is empty: no rows to test")
    missing = [name for name in features if name not in current.columns]
    if missing:
        raise DataError(f"the current batch has no column(s) {', '.join(map(repr, missing))}")
    tests = {name: config.test_for(name, spec["type"]) for name, spec in features.items()}
    results = compare_columns(features, {name: current[name] for name in features}, tests, progress=progress,
                              registry=registry)

    p_value_names = [name for name, result in results.items() if registry.get(result["test"]).gives_p_value]
    adjusted = statistics.adjust_p_values([results[name]["p_value"] for name in p_value_names], config.correction)
    adjusted_by_name = dict(zip(p_value_names, (float(value) for value in adjusted), strict=True))
    for name, result in results.items():
        _decide(result, config.threshold_for(name, result["test"]), adjusted_by_name.get(name),
                registry.get(result["test"]).gives_p_value)

    drifted = sum(result["drifted"] for result in results.values())
    share = drifted / len(results)
    detected = drifted > 0 and share >= config.drift_share_threshold
    return detected, {
        "drift_share": share,
        "n_features": len(results),
        "n_drifted": drifted,
        "correction": config.correction,
        "alpha": config.alpha,
        "threshold": config.drift_share_threshold,
        "n_current": int(len(current)),
        "n_reference": profile.get("n_rows"),
        "features": results,
    }


# --------------------------------------------------------------------------------------
# Concept drift
# --------------------------------------------------------------------------------------


def _shift(profile: Mapping | None, values: pd.Series, config: Config) -> dict | None:
    """Label or prediction distribution shift (one test, not corrected: it is not a feature)."""
    if profile is None:
        return None
    test = config.tests[profile["type"]]
    try:
        result = compare_columns({"column": profile}, {"column": values}, {"column": test})["column"]
    except DataError:
        return None
    gives_p_value = BUILT_IN.get(test).gives_p_value
    threshold = config.alpha if gives_p_value else float(config.thresholds[test])
    return _decide(result, threshold, result["p_value"], gives_p_value)


def detect_concept_drift(profile: Mapping, current: pd.DataFrame, config: Config) -> tuple[bool, dict] | None:
    """(detected, parameters) of the change in model performance, or None without labelled rows.

    The metric's change ``delta = current − reference`` gets a percentile bootstrap interval
    (``concept.bootstrap`` replicates, seeded by ``concept.seed``), both sides resampled. Concept
    drift is detected when the whole interval lies on the worse side of ``−tolerance`` (accuracy,
    F1) or ``+tolerance`` (MAE, RMSE).
    """
    performance = profile.get("performance")
    label_column = (profile.get("label") or {}).get("column")
    prediction_column = (profile.get("prediction") or {}).get("column")
    if not performance or label_column not in current.columns or prediction_column not in current.columns:
        return None
    task = performance["task"]
    metric = config.concept.metric or default_metric(task)
    metric_task, higher_is_better = CONCEPT_METRICS[metric]
    if metric_task != task:
        raise ConfigError(f"concept.metric: {metric} is a {metric_task} metric but the project was fitted for {task}")
    labels, predictions = current[label_column], current[prediction_column]

    if task == "classification":
        label_names, prediction_names = category_names(labels), category_names(predictions)
        both = (label_names != None) & (prediction_names != None)  # noqa: E711 - elementwise on object arrays
        if not both.any():
            return None
        label_names, prediction_names = label_names[both], prediction_names[both]
        classes = sorted(set(performance["classes"]) | set(label_names) | set(prediction_names))
        reference_side = _expand_confusion(performance["confusion"], performance["classes"], classes)
        current_side = statistics.confusion_matrix(label_names, prediction_names, classes)
        positive_label = config.concept.positive_label
        positive = classes.index(positive_label) if positive_label is not None and positive_label in classes else None
        if positive_label is not None and positive is None:
            raise DataError(f"concept.positive_label {positive_label!r} is neither a label nor a prediction")
        reference_value = float(statistics.classification_metric(reference_side, metric, positive))
        current_value = float(statistics.classification_metric(current_side, metric, positive))
        labelled = int(both.sum())
    else:
        label_values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        prediction_values = pd.to_numeric(predictions, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        both = np.isfinite(label_values) & np.isfinite(prediction_values)
        if not both.any():
            return None
        reference_side = performance["errors"]
        current_side = statistics.error_groups(prediction_values[both] - label_values[both])
        positive = None
        reference_value = statistics.regression_metric(reference_side, metric)
        current_value = statistics.regression_metric(current_side, metric)
        labelled = int(both.sum())

    settings = config.concept
    rng = np.random.default_rng(settings.seed)
    deltas = statistics.bootstrap_delta(metric, reference_side, current_side, settings.bootstrap, rng, positive)
    ci_low, ci_high = statistics.percentile_interval(deltas, settings.confidence)
    detected = ci_high < -settings.tolerance if higher_is_better else ci_low > settings.tolerance
    return bool(detected), {
        "metric": metric,
        "reference": reference_value,
        "current": current_value,
        "delta": current_value - reference_value,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "confidence": settings.confidence,
        "higher_is_better": higher_is_better,
        "tolerance": settings.tolerance,
        "bootstrap": settings.bootstrap,
        "n_labelled": labelled,
        "n_reference": performance["n"],
        "label_shift": _shift(profile.get("label"), labels, config),
        "prediction_shift": _shift(profile.get("prediction"), predictions, config),
    }


def _expand_confusion(confusion: list[list[int]], classes: list[str], all_classes: list[str]) -> np.ndarray:
    position = [all_classes.index(name) for name in classes]
    expanded = np.zeros((len(all_classes), len(all_classes)), dtype=np.int64)
    expanded[np.ix_(position, position)] = np.asarray(confusion, dtype=np.int64).reshape(len(classes), len(classes))
    return expanded
