"""The reference profile: what `detector fit` keeps of the reference data (pure functions, no I/O).

A profile is a JSON-ready dict (see PROFILE_FORMAT and the README):

* per numeric feature: counts, moments, quantiles, quantile bin edges + counts and a sorted uniform
  sample of at most ``sample_size`` values (the two-sample tests' reference side);
* per categorical feature: the frequencies of its ``max_categories`` most frequent categories,
  the rest counted together as OTHER;
* with a label and a prediction column: their distributions and the reference performance
  (confusion matrix, or grouped errors for regression) for the concept-drift bootstrap.

Beside it, ``fit_profile`` returns a uniform row sample of the reference (features, label,
prediction, timestamp) for plug-in detectors, stored as Parquet.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import statistics
from .config import CONCEPT_METRICS, Config
from .errors import ConfigError, DataError
from .registry import BUILT_IN

__all__ = ["OTHER", "PROFILE_FORMAT", "category_counts", "category_label", "category_names", "fit_profile", "numeric_values",
           "resolve_features", "resolve_task"]

PROFILE_FORMAT = "drift-detector-profile/1"
#: Categories beyond max_categories (reference) and categories the reference never had (current).
OTHER = "__other__"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


# --------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------


def numeric_values(values: pd.Series, name: str) -> tuple[np.ndarray, int]:
    """(finite values as float64, how many were missing). NaN, None and ±inf count as missing.

    Values that are present but not numbers raise DataError naming the column and a few of them.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataError(f"column {name!r} holds true/false values but the profile treats it as numeric")
    if pd.api.types.is_numeric_dtype(values.dtype):
        array = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        converted = pd.to_numeric(values, errors="coerce")
        bad = values[converted.isna() & values.notna()]
        if len(bad):
            examples = ", ".join(repr(value) for value in bad.unique()[:3])
            raise DataError(f"column {name!r} must be numeric (as in the reference) but has {len(bad)} value(s) that "
                            f"are not numbers, e.g. {examples}")
        array = converted.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(array)
    if finite.all():
        return array, 0
    return array[finite], int((~finite).sum())


def category_label(value) -> str:
    """A category's name as stored: 3, 3.0 and "3" are the same category; True is "True"."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def category_names(values: pd.Series) -> np.ndarray:
    """Each value's category name (``category_label``), None where missing; labels each distinct value once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    names = np.array([category_label(value) for value in uniques] + [None], dtype=object)
    return names[np.where(codes >= 0, codes, len(uniques))]


def category_counts(values: pd.Series) -> tuple[dict[str, int], int]:
    """(count per category name, how many were missing)."""
    counts = values.value_counts(dropna=True, sort=False)
    result: dict[str, int] = {}
    for value, count in counts.items():
        label = category_label(value)
        result[label] = result.get(label, 0) + int(count)
    return result, int(values.isna().sum())


def _inferred_type(values: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(values.dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(values.dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or isinstance(values.dtype, pd.DatetimeTZDtype):
        return None
    return "categorical"


def resolve_features(frame: pd.DataFrame, config: Config) -> dict[str, str]:
    """Feature name → "numeric" | "categorical", checked against the configured tests.

    Without ``features:`` every column except label, prediction, timestamp and ``ignore`` is a
    feature; date/time columns are then skipped (they always drift).
    """
    special = {name for name in (config.label, config.prediction, config.timestamp_column) if name}
    if config.features is None:
        names = [str(column) for column in frame.columns if column not in special and column not in config.ignore]
        explicit = False
    else:
        names = [spec.name for spec in config.features]
        explicit = True
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DataError(f"the reference data has no column(s) {', '.join(map(repr, missing))}")
    kinds: dict[str, str] = {}
    problems = []
    for name in names:
        spec = config.feature(name)
        kind = spec.type if spec and spec.type else _inferred_type(frame[name])
        if kind is None:
            if explicit:
                problems.append(f"features.{name}: a date/time column; give it type: numeric or categorical, "
                                "or leave it out")
            continue
        test = config.test_for(name, kind)
        if not BUILT_IN.get(test).applies_to(kind):
            problems.append(f"features.{name}: is {kind} in the reference, and {test} does not apply to {kind} "
                            "features")
        kinds[name] = kind
    if problems:
        raise ConfigError("invalid configuration for this data:\n  " + "\n  ".join(problems))
    if not kinds:
        raise DataError("the reference data has no feature columns to profile")
    return kinds


def resolve_task(config: Config, labels: pd.Series | None) -> str | None:
    """classification | regression: from the configured task, else the metric, else the label's dtype."""
    if config.task:
        return config.task
    if config.concept.metric:
        return CONCEPT_METRICS[config.concept.metric][0]
    if labels is None:
        return None
    return "regression" if pd.api.types.is_float_dtype(labels.dtype) else "classification"


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


def numeric_profile(values: np.ndarray, missing: int, bins: int, sample_size: int,
                    rng: np.random.Generator) -> dict:
    if values.size == 0:
        raise DataError("no values")
    sorted_values = np.sort(values)
    if values.size > sample_size:
        sample = np.sort(rng.choice(values, size=sample_size, replace=False))
    else:
        sample = sorted_values
    edges = statistics.quantile_edges(sorted_values, bins)
    return {
        "type": "numeric",
        "n": int(values.size),
        "missing": missing,
        "mean": float(values.mean()),
        "std": float(values.std()),  # population SD: the scale of the normalised Wasserstein distance
        "min": float(sorted_values[0]),
        "max": float(sorted_values[-1]),
        "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(sorted_values, QUANTILES), strict=True)},
        "bin_edges": [float(edge) for edge in edges],
        "bin_counts": [int(count) for count in statistics.bin_counts(sorted_values, edges)],
        "sample": [float(value) for value in sample],
    }


def categorical_profile(counts: Mapping[str, int], missing: int, max_categories: int) -> dict:
    if not counts:
        raise DataError("no values")
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ordered[:max_categories])
    other = sum(count for _, count in ordered[max_categories:])
    return {
        "type": "categorical",
        "n": int(sum(counts.values())),
        "missing": missing,
        "frequencies": kept,
        "other": int(other),
        "n_categories": len(counts),
    }


def column_profile(values: pd.Series, kind: str, name: str, config: Config, rng: np.random.Generator) -> dict:
    try:
        if kind == "numeric":
            array, missing = numeric_values(values, name)
            return numeric_profile(array, missing, config.bins, config.sample_size, rng)
        counts, missing = category_counts(values)
        return categorical_profile(counts, missing, config.max_categories)
    except DataError as error:
        if str(error) == "no values":
            raise DataError(f"column {name!r} has no values in the reference data") from None
        raise


def performance_profile(labels: pd.Series, predictions: pd.Series, task: str, positive_label: str | None) -> dict:
    """The reference model's performance, kept in a form the bootstrap can resample."""
    if task == "classification":
        label_names, prediction_names = category_names(labels), category_names(predictions)
        both = (label_names != None) & (prediction_names != None)  # noqa: E711 - elementwise on object arrays
        label_names, prediction_names = label_names[both], prediction_names[both]
        classes = sorted(set(label_names) | set(prediction_names))
        confusion = statistics.confusion_matrix(label_names, prediction_names, classes)
        positive = classes.index(positive_label) if positive_label in classes else None
        return {
            "task": task,
            "n": int(both.sum()),
            "classes": classes,
            "confusion": confusion.tolist(),
            "accuracy": _float_or_none(statistics.classification_metric(confusion, "accuracy")),
            "f1": _float_or_none(statistics.classification_metric(confusion, "f1", positive)),
        }
    label_values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    prediction_values = pd.to_numeric(predictions, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    both = np.isfinite(label_values) & np.isfinite(prediction_values)
    errors = prediction_values[both] - label_values[both]
    groups = statistics.error_groups(errors)
    return {
        "task": task,
        "n": int(both.sum()),
        "errors": groups,
        "mae": statistics.regression_metric(groups, "mae") if errors.size else None,
        "rmse": statistics.regression_metric(groups, "rmse") if errors.size else None,
    }


def _float_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def fit_profile(frame: pd.DataFrame, config: Config, *, source: str | None = None,
                progress=None) -> tuple[dict, pd.DataFrame]:
    """(profile, reference row sample) of a reference batch, for ``config``.

    ``progress(name)`` is called after each column.
    """
    if frame.empty:
        raise DataError("the reference data has no rows" + (f" ({source})" if source else ""))
    kinds = resolve_features(frame, config)
    rng = np.random.default_rng(config.seed)
    features = {}
    for name, kind in kinds.items():
        features[name] = column_profile(frame[name], kind, name, config, rng)
        if progress:
            progress(name)

    for role in ("label", "prediction"):
        column = getattr(config, role)
        if column and column not in frame.columns:
            raise DataError(f"the reference data has no {role} column {column!r}")
    labels = frame[config.label] if config.label else None
    task = resolve_task(config, labels)
    targets: dict[str, dict | None] = {"label": None, "prediction": None}
    for role in ("label", "prediction"):
        column = getattr(config, role)
        if column:
            kind = "numeric" if task == "regression" else "categorical"
            targets[role] = {"column": column, **column_profile(frame[column], kind, column, config, rng)}
    performance = None
    if config.label and config.prediction:
        performance = performance_profile(frame[config.label], frame[config.prediction], task,
                                          config.concept.positive_label)

    columns = [*kinds, *(name for name in (config.label, config.prediction, config.timestamp_column)
                         if name and name in frame.columns)]
    sample = frame[columns]
    if len(sample) > config.sample_size:
        sample = sample.sample(n=config.sample_size, random_state=config.seed).sort_index()
    profile = {
        "format": PROFILE_FORMAT,
        "project": config.project,
        "fitted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "source": source,
        "n_rows": int(len(frame)),
        "sample_size": config.sample_size,
        "seed": config.seed,
        "task": task,
        "features": features,
        "label": targets["label"],
        "prediction": targets["prediction"],
        "performance": performance,
        "row_sample": {"rows": int(len(sample)), "file": "reference_sample.parquet"},
    }
    return profile, sample.reset_index(drop=True)
