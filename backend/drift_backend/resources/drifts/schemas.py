"""Schemas of drift runs, and the query arguments that select them (run filter, order)."""

from datetime import datetime, timedelta, timezone

import marshmallow as ma
from marshmallow import validate

from ...query_language import DRIFT_FIELDS
from ...repositories.run_filter import RunFilter
from ...run_document import DRIFT_TYPES, JOB_STATUSES
from ..common import JsonObject, ResourceSchema, search_filter_schema, sort_args_schema

MAX_TAGS = 100
# Clients' clocks drift; a run stamped slightly ahead of the server is still accepted.
MAX_CLOCK_SKEW = timedelta(minutes=5)

_job_status = dict(validate=validate.OneOf(JOB_STATUSES))
_model = dict(validate=validate.Length(min=1, max=256))
_tags = dict(validate=validate.Length(max=MAX_TAGS))


def _tag():
    return ma.fields.String(validate=validate.Length(min=1, max=20))


class DriftResultSchema(ma.Schema):
    """The outcome of one kind of drift detection."""

    drift = ma.fields.Boolean(required=True, metadata={"description": "whether drift was detected"})
    parameters = JsonObject(load_default=dict, metadata={"description": "statistics, thresholds, per-feature results"})


class DriftSchema(ResourceSchema):
    experiment_id = ma.fields.String()
    schema_version = ma.fields.String()
    job_status = ma.fields.String(metadata={"enum": list(JOB_STATUSES)})
    model = ma.fields.String()
    tags = ma.fields.List(ma.fields.String())
    drift_detected = ma.fields.Boolean()
    parameters = ma.fields.Dict()
    concept_drift = ma.fields.Nested(DriftResultSchema)
    data_drift = ma.fields.Nested(DriftResultSchema)


class DriftReplaceSchema(ma.Schema):
    """A full drift run (PUT). Results not sent are removed.

    When `concept_drift` or `data_drift` is given, `drift_detected` is derived from them.
    """

    job_status = ma.fields.String(required=True, **_job_status)
    model = ma.fields.String(required=True, **_model)
    tags = ma.fields.List(_tag(), load_default=list, **_tags)
    drift_detected = ma.fields.Boolean(load_default=False)
    parameters = JsonObject(load_default=dict)
    concept_drift = ma.fields.Nested(DriftResultSchema)
    data_drift = ma.fields.Nested(DriftResultSchema)


def _not_in_the_future(moment: datetime) -> None:
    try:  # 0001-01-01T00:00:00+01:00 is valid ISO 8601 but has no UTC equivalent
        moment.astimezone(timezone.utc)
    except OverflowError:
        raise ma.ValidationError("created_at is out of range once converted to UTC") from None
    if moment > datetime.now(timezone.utc) + MAX_CLOCK_SKEW:
        raise ma.ValidationError("created_at may not be in the future")


class DriftCreateSchema(DriftReplaceSchema):
    """A new drift run. A client-chosen `id` makes retries safe: a replay returns the stored run."""

    id = ma.fields.UUID(metadata={"description": "optional client-generated UUID for idempotent retries"})
    created_at = ma.fields.AwareDateTime(
        default_timezone=timezone.utc,
        validate=_not_in_the_future,
        metadata={"description": "when the run started (ISO 8601); defaults to now. Set it to import history."},
    )

    @ma.post_load
    def normalise(self, data, **kwargs):
        if "id" in data:
            data["id"] = str(data["id"])
        if "created_at" in data:  # BSON dates keep milliseconds, in UTC
            moment = data["created_at"].astimezone(timezone.utc)
            data["created_at"] = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return data


class DriftPatchSchema(ma.Schema):
    """Any subset of a drift run's fields."""

    job_status = ma.fields.String(**_job_status)
    model = ma.fields.String(**_model)
    tags = ma.fields.List(_tag(), **_tags)
    drift_detected = ma.fields.Boolean()
    parameters = JsonObject()
    concept_drift = ma.fields.Nested(DriftResultSchema)
    data_drift = ma.fields.Nested(DriftResultSchema)


DriftFilterSchema = search_filter_schema("drift", DRIFT_FIELDS)
DriftSortArgsSchema = sort_args_schema(DRIFT_FIELDS)

# Repeated query arguments (model, job_status) take at most this many values.
MAX_LIST_ARGUMENTS = 100
_RUN_FILTER_FIELDS = ("since", "until", "model", "tag", "job_status", "drift_type", "detected")


def _utc_millis(moment: datetime) -> datetime:
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+01:00: valid ISO 8601, no UTC equivalent
        raise ma.ValidationError("the date is out of range once converted to UTC") from None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class RunFilterArgsSchema(ma.Schema):
    """Which runs an overview or a run search covers, as query arguments; loaded as `run_filter`, a `RunFilter`.

    Every argument is optional; repeatable ones are ORed (tags: ANDed). The one definition of the run
    filter: the overviews (summary, series, heatmap) and the run search derive their arguments from it.
    """

    since = ma.fields.AwareDateTime(
        default_timezone=timezone.utc,
        metadata={"description": "runs created at or after this time (ISO 8601; without an offset, UTC)"},
    )
    until = ma.fields.AwareDateTime(
        default_timezone=timezone.utc,
        metadata={"description": "runs created before this time (ISO 8601; without an offset, UTC)"},
    )
    model = ma.fields.List(ma.fields.String(**_model), validate=validate.Length(max=MAX_LIST_ARGUMENTS),
                           metadata={"description": "repeatable: runs of any of these models"})
    tag = ma.fields.List(_tag(), **_tags, metadata={"description": "repeatable: runs carrying all these tags"})
    job_status = ma.fields.List(ma.fields.String(**_job_status),
                                metadata={"description": "repeatable: runs in any of these job statuses"})
    drift_type = ma.fields.String(
        validate=validate.OneOf(list(DRIFT_TYPES)),
        metadata={"description": "runs that have this result (concept: concept_drift, data: data_drift); "
                                 "with `detected`, runs whose result says so"},
    )
    detected = ma.fields.Boolean(
        metadata={"description": "alone: runs whose drift_detected is this; with drift_type: that result's drift"},
    )

    @ma.validates_schema
    def window_is_ordered(self, data, **kwargs):
        if "since" in data and "until" in data and data["until"] <= data["since"]:
            raise ma.ValidationError("until must be later than since", field_name="until")

    @ma.post_load
    def run_filter(self, data, **kwargs):
        """Replace the filter arguments by the `RunFilter` they describe."""
        filter_args = {name: data.pop(name) for name in _RUN_FILTER_FIELDS if name in data}
        data["run_filter"] = RunFilter(
            since=_utc_millis(filter_args["since"]) if "since" in filter_args else None,
            until=_utc_millis(filter_args["until"]) if "until" in filter_args else None,
            models=tuple(filter_args.get("model", ())),
            tags=tuple(filter_args.get("tag", ())),
            job_statuses=tuple(filter_args.get("job_status", ())),
            drift_type=filter_args.get("drift_type"),
            detected=filter_args.get("detected"),
        )
        return data


class DriftSearchArgsSchema(RunFilterArgsSchema, DriftSortArgsSchema):
    """Query arguments of a run search: the run filter and the order (`page`, `page_size`: the pagination's)."""

    class Meta:
        # As before the run filter joined them: other query arguments (page, page_size, and any a
        # client adds) are left to the pagination decorator or ignored, not refused.
        unknown = ma.EXCLUDE
