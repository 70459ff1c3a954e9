"""The stored layout of a drift run: job statuses, result fields, digested parameter objects, per-feature objects.

Schemas (what a run may say), the summaries (what is counted and digested of it) and the overviews (what
they aggregate) all read a run through these names, so a change of layout is made here once. It sits
beside `resources/` and `repositories/` rather than inside either, because both depend on it.
"""

from __future__ import annotations

JOB_STATUSES = ("Running", "Completed", "Failed")

# The kinds of drift a run may report a result for, and the field holding each result.
DRIFT_TYPES = {"concept": "concept_drift", "data": "data_drift"}
RESULT_FIELDS = tuple(DRIFT_TYPES.values())
# A result is {"drift": bool, "parameters": {...}}: the outcome field of a result.
OUTCOME_KEY = "drift"

# The free-form parameter objects of a run, as dotted paths: numbers below them are digested per day
# (summaries), addressed by series and validated as parameter paths (overview arguments).
DIGEST_ROOTS = ("parameters", "concept_drift.parameters", "data_drift.parameters")

# Per-feature objects of a result: `<result>.parameters.features.<feature>`, or (the older layout)
# objects directly under `<result>.parameters` other than `features`. A feature counts as drifted
# when one of FEATURE_FLAGS is true in its object.
FEATURES_KEY = "features"
FEATURE_FLAGS = ("drifted", "drift")

# What the overviews count of a (summary-shaped) row of runs, and the job status each total counts.
STATUS_COUNTS = {"Running": "running", "Completed": "completed", "Failed": "failed"}
COUNTERS = ("runs", "running", "completed", "failed", "drift_detected", "concept_detected",
            "concept_not_detected", "data_detected", "data_not_detected")


def outcome(run: dict, result_field: str) -> bool | None:
    """A result's drift outcome; None when the run has no such result."""
    result = run.get(result_field)
    return None if result is None else result.get(OUTCOME_KEY)


def with_derived_fields(run: dict) -> dict:
    """A run that carries structured results has drift detected exactly when one of them does."""
    results = [run[field] for field in RESULT_FIELDS if run.get(field) is not None]
    if results:
        run["drift_detected"] = any(result[OUTCOME_KEY] for result in results)
    return run


def is_feature_object(root: str, segments: list[str]) -> bool:
    """Whether `segments` (a path below the digest root `root`) name a per-feature object of a result."""
    if root == "parameters":
        return False
    return ((len(segments) == 1 and segments[0] != FEATURES_KEY)
            or (len(segments) == 2 and segments[0] == FEATURES_KEY))


def is_feature_statistic(segments: list[str]) -> bool:
    """Whether a path below a result's parameters is `features.<feature>.<statistic>` or, in the older
    layout, `<feature>.<statistic>`."""
    return ((len(segments) == 3 and segments[0] == FEATURES_KEY)
            or (len(segments) == 2 and segments[0] != FEATURES_KEY))


def feature_objects(parameters: dict) -> list[tuple[str, dict]]:
    """A result's per-feature objects: those under `features`, then those of the older layout."""
    nested = parameters.get(FEATURES_KEY)
    found = list(nested.items()) if isinstance(nested, dict) else []
    found += [(name, value) for name, value in parameters.items() if name != FEATURES_KEY]
    return [(name, value) for name, value in found if isinstance(value, dict)]


def feature_flagged(feature: dict) -> bool:
    """Whether a per-feature object says its feature drifted."""
    return any(feature.get(flag) is True for flag in FEATURE_FLAGS)
