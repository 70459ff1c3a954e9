"""Query arguments and responses of the drift overviews (their run filter: `drifts.schemas.RunFilterArgsSchema`)."""

from __future__ import annotations

import re

import marshmallow as ma
from marshmallow import validate

from ...repositories.drift_analytics import COUNTERS, INTERVALS
from ...run_document import DIGEST_ROOTS, DRIFT_TYPES
from ..common import UtcDateTime
# The run filter is the run search's too: one definition, beside the runs' schemas.
from ..drifts.schemas import RunFilterArgsSchema

MAX_PATH_LENGTH = 512
_STATISTIC = re.compile(r"^[^.$\x00]{1,100}$")


def check_parameter_path(path: str) -> None:
    """A dotted path below one of the runs' free-form parameter objects, and nothing else."""
    if "$" in path or "\x00" in path:
        raise ma.ValidationError("a parameter path may not contain '$' or NUL characters")
    if not all(path.split(".")):
        raise ma.ValidationError("a parameter path may not have empty segments (leading, trailing or double dots)")
    if not any(path.startswith(f"{root}.") for root in DIGEST_ROOTS):
        raise ma.ValidationError(
            f"a parameter path starts with one of {', '.join(DIGEST_ROOTS)} followed by a key, "
            "e.g. data_drift.parameters.age.p_value"
        )


def _interval(default: str = "auto"):
    return ma.fields.String(
        load_default=default,
        validate=validate.OneOf([*INTERVALS, "auto"]),
        metadata={"description": "bucket size: day, week (ISO, from Monday), month, or auto, the smallest "
                                 "giving at most 120 buckets"},
    )


class SummaryArgsSchema(RunFilterArgsSchema):
    interval = _interval()
    stuck_after_minutes = ma.fields.Integer(
        load_default=360,
        validate=validate.Range(min=1, max=525_600),
        metadata={"description": "a run still Running after this many minutes counts as stuck"},
    )


class SeriesArgsSchema(RunFilterArgsSchema):
    parameter = ma.fields.String(
        required=True,
        validate=[validate.Length(max=MAX_PATH_LENGTH), check_parameter_path],
        metadata={"description": "dotted path of a numeric value in the runs, below parameters, "
                                 "concept_drift.parameters or data_drift.parameters",
                  "example": "data_drift.parameters.age.p_value"},
    )
    versus = ma.fields.String(
        validate=[validate.Length(max=MAX_PATH_LENGTH), check_parameter_path],
        metadata={"description": "a second parameter path: return (x, y) pairs of the same runs instead"},
    )
    points = ma.fields.Integer(
        load_default=1000,
        validate=validate.Range(min=10, max=10_000),
        metadata={"description": "most points returned; more matching runs are aggregated (or sampled, "
                                 "with versus)"},
    )


class HeatmapArgsSchema(RunFilterArgsSchema):
    result = ma.fields.String(load_default=DRIFT_TYPES["data"],
                              validate=validate.OneOf([DRIFT_TYPES["data"], DRIFT_TYPES["concept"]]),
                              metadata={"description": "whose per-feature parameters to read"})
    statistic = ma.fields.String(
        load_default="p_value",
        validate=validate.Regexp(_STATISTIC, error="a statistic is a key of 1 to 100 characters without '.' or '$'"),
        metadata={"description": "the numeric key of each feature's object, e.g. p_value or statistic"},
    )
    interval = _interval()
    max_features = ma.fields.Integer(load_default=40, validate=validate.Range(min=1, max=200),
                                     metadata={"description": "most features returned, the most drifting first"})


class FacetsArgsSchema(ma.Schema):
    sample = ma.fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000),
                               metadata={"description": "how many recent runs to look into"})


# Responses ---------------------------------------------------------------------------------------

_COUNTER_DESCRIPTIONS = {
    "runs": "all runs",
    "running": "runs still Running",
    "completed": "Completed runs",
    "failed": "Failed runs",
    "drift_detected": "runs with drift_detected true",
    "concept_detected": "runs whose concept_drift result detected drift",
    "concept_not_detected": "runs whose concept_drift result detected none",
    "data_detected": "runs whose data_drift result detected drift",
    "data_not_detected": "runs whose data_drift result detected none",
}


def _counter_fields() -> dict[str, ma.fields.Field]:
    return {name: ma.fields.Integer(metadata={"description": _COUNTER_DESCRIPTIONS[name]}) for name in COUNTERS}


SummaryTotalsSchema = ma.Schema.from_dict({
    **_counter_fields(),
    "drift_rate": ma.fields.Float(allow_none=True, metadata={
        "description": "Completed runs with drift detected / Completed runs; null without Completed runs"}),
    "first_run_at": UtcDateTime(allow_none=True, metadata={"description": "creation time of the earliest run"}),
    "last_run_at": UtcDateTime(allow_none=True, metadata={"description": "creation time of the latest run"}),
    "stuck": ma.fields.Integer(metadata={"description": "runs still Running after stuck_after_minutes "
                                                        "(model filter only; counted up to 10,000)"}),
}, name="DriftSummaryTotals")

SummaryBucketSchema = ma.Schema.from_dict({
    "start": UtcDateTime(metadata={"description": "start of the bucket (UTC midnight)"}),
    "model": ma.fields.String(),
    **_counter_fields(),
}, name="DriftSummaryBucket")


class StuckRunSchema(ma.Schema):
    id = ma.fields.String(attribute="_id")
    model = ma.fields.String()
    created_at = UtcDateTime()


class DriftSummarySchema(ma.Schema):
    interval = ma.fields.String(metadata={"enum": list(INTERVALS), "description": "the bucket size used"})
    since = UtcDateTime(allow_none=True, metadata={"description": "effective start: `since` rounded down to a day"})
    until = UtcDateTime(allow_none=True, metadata={"description": "effective end (exclusive): `until` rounded up "
                                                                  "to a day"})
    source = ma.fields.String(metadata={"enum": ["summaries", "runs"], "description":
                                        "summaries: the stored per-day counters; runs: computed from the runs "
                                        "(a tag filter needs it)"})
    totals = ma.fields.Nested(SummaryTotalsSchema)
    buckets = ma.fields.List(ma.fields.Nested(SummaryBucketSchema), metadata={
        "description": "per bucket and model, sorted by start then model; only buckets with runs"})
    models = ma.fields.List(ma.fields.String(), metadata={
        "description": "every model the experiment has runs of, regardless of the filters"})
    stuck_runs = ma.fields.List(ma.fields.Nested(StuckRunSchema), metadata={
        "description": "the 20 oldest stuck runs, oldest first"})


class SeriesPointSchema(ma.Schema):
    """A run, or a time bucket of runs; (x, y) pairs instead of value/min/max/count with `versus`."""

    created_at = UtcDateTime(metadata={"description": "the run's creation time, or the bucket's earliest (from "
                                                      "summaries: the bucket's first UTC day)"})
    value = ma.fields.Float(metadata={"description": "the value, or the bucket's mean"})
    min = ma.fields.Float()
    max = ma.fields.Float()
    count = ma.fields.Integer(metadata={"description": "runs in the point"})
    x = ma.fields.Float(metadata={"description": "with versus: the parameter's value"})
    y = ma.fields.Float(metadata={"description": "with versus: the versus parameter's value"})
    drift_detected = ma.fields.Boolean()
    model = ma.fields.String(allow_none=True, metadata={"description": "null when a bucket mixes models"})
    run_id = ma.fields.String(allow_none=True, metadata={"description": "null for a bucket of several runs "
                                                                        "(and for any bucket from summaries)"})


def _source_fields() -> dict[str, ma.fields.Field]:
    """`source`, `since` and `until` of the overviews that read the daily digests when they can."""
    return {
        "source": ma.fields.String(metadata={"enum": ["summaries", "runs"], "description":
                                             "summaries: the per-day digests kept as runs are written (time "
                                             "window widened to whole UTC days); runs: computed from the runs"}),
        "since": UtcDateTime(allow_none=True, metadata={
            "description": "effective start: `since`, rounded down to a UTC day when source is summaries"}),
        "until": UtcDateTime(allow_none=True, metadata={
            "description": "effective end (exclusive): `until`, rounded up to a UTC day when source is summaries"}),
    }


class SeriesSchema(ma.Schema.from_dict(_source_fields(), name="SeriesSource")):
    parameter = ma.fields.String()
    versus = ma.fields.String(allow_none=True)
    matched = ma.fields.Integer(metadata={"description": "runs with numeric values that match the filters"})
    downsampled = ma.fields.Boolean(metadata={"description": "whether points are buckets (or a sample, with "
                                                             "versus) rather than every run"})
    points = ma.fields.List(ma.fields.Nested(SeriesPointSchema), metadata={"description": "sorted by created_at"})


class HeatmapCellSchema(ma.Schema):
    feature = ma.fields.String()
    start = UtcDateTime()
    mean = ma.fields.Float()
    min = ma.fields.Float()
    max = ma.fields.Float()
    runs = ma.fields.Integer(metadata={"description": "runs with a numeric statistic for the feature"})
    detected = ma.fields.Integer(metadata={"description": "of those, runs whose feature object says drifted: true "
                                                          "(or drift: true)"})


class HeatmapSchema(ma.Schema.from_dict(_source_fields(), name="HeatmapSource")):
    result = ma.fields.String()
    statistic = ma.fields.String()
    interval = ma.fields.String(metadata={"enum": list(INTERVALS)})
    features = ma.fields.List(ma.fields.String(), metadata={"description": "shown features, most drifting first"})
    features_total = ma.fields.Integer(metadata={"description": "features found, shown or not"})
    cells = ma.fields.List(ma.fields.Nested(HeatmapCellSchema), metadata={
        "description": "sorted by the features' order, then start"})


class FacetFeaturesSchema(ma.Schema):
    data_drift = ma.fields.List(ma.fields.String())
    concept_drift = ma.fields.List(ma.fields.String())


class FacetsSchema(ma.Schema):
    models = ma.fields.List(ma.fields.String(), metadata={"description": "every model of the experiment"})
    tags = ma.fields.List(ma.fields.String())
    parameters = ma.fields.List(ma.fields.String(), metadata={"description": "numeric parameter paths, "
                                                                             "usable by /series"})
    features = ma.fields.Nested(FacetFeaturesSchema, metadata={"description": "per-feature objects in each result"})
    statistics = ma.fields.List(ma.fields.String(), metadata={"description": "numeric keys of those objects, "
                                                                             "usable by /heatmap"})
    sampled_runs = ma.fields.Integer()
