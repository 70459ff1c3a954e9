"""Schemas of drift runs."""

from datetime import datetime, timedelta, timezone

import marshmallow as ma
from marshmallow import validate

from ...query_language import DRIFT_FIELDS
from ...run_document import JOB_STATUSES
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
