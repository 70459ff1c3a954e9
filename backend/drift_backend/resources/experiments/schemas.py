"""Schemas of experiments and their permissions."""

from types import MappingProxyType

import marshmallow as ma
from marshmallow import validate

from ...permissions import LEVEL_LABELS
from ...query_language import EXPERIMENT_FIELDS, FieldKind
from ..common import ResourceSchema, UtcDateTime, search_filter_schema, sort_args_schema

MAX_PERMISSIONS = 200


class PermissionSchema(ma.Schema):
    entity = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=256),
        metadata={"description": "a user id, or an entitlement (group) of the identity provider"},
    )
    level = ma.fields.String(required=True, validate=validate.OneOf(LEVEL_LABELS))


def _check_permissions(permissions: list[dict]) -> None:
    entities = [permission["entity"] for permission in permissions]
    repeated = sorted({entity for entity in entities if entities.count(entity) > 1})
    if repeated:
        raise ma.ValidationError(f"each entity may appear once; repeated: {', '.join(repeated)}")


_name = dict(
    validate=[
        validate.Length(min=1, max=100),
        validate.Regexp(r"^\S(.*\S)?$", error="the name may not be blank or start or end with spaces"),
    ]
)
_permissions = dict(validate=[validate.Length(max=MAX_PERMISSIONS), _check_permissions])


class ExperimentStatsSchema(ma.Schema):
    """Counts of an experiment's drift runs, from the stored per-day summaries."""

    runs = ma.fields.Integer()
    completed = ma.fields.Integer()
    running = ma.fields.Integer()
    failed = ma.fields.Integer()
    drift_detected = ma.fields.Integer(metadata={"description": "runs with drift_detected true"})
    drift_rate = ma.fields.Float(allow_none=True, metadata={
        "description": "Completed runs with drift detected / Completed runs; null without Completed runs"})
    last_run_at = UtcDateTime(allow_none=True, metadata={"description": "creation time of the latest run"})


class ExperimentSchema(ResourceSchema):
    name = ma.fields.String()
    description = ma.fields.String()
    public = ma.fields.Boolean()
    owner = ma.fields.String(dump_only=True, allow_none=True, metadata={"description": (
        "user id (as in `GET /user/self`) of the creator, set by the server; names are unique per owner. "
        "Null for older experiments no user managed. Returned to the owner and to callers who hold Manage")})
    permissions = ma.fields.List(
        ma.fields.Nested(PermissionSchema),
        metadata={"description": "returned to callers who hold Manage on the experiment"},
    )
    stats = ma.fields.Nested(ExperimentStatsSchema, dump_only=True,
                             metadata={"description": "only in searches with `with_stats=true`"})


class ExperimentCreateSchema(ma.Schema):
    """A full experiment representation (POST and PUT); the creator always gets Manage."""

    name = ma.fields.String(required=True, **_name)
    # Older clients send null for an empty description; it is stored as "".
    description = ma.fields.String(load_default="", allow_none=True, validate=validate.Length(max=2000))
    public = ma.fields.Boolean(load_default=False)
    permissions = ma.fields.List(ma.fields.Nested(PermissionSchema), load_default=list, **_permissions)

    @ma.post_load
    def empty_description(self, data, **kwargs):
        if "description" in data and data["description"] is None:
            data["description"] = ""
        return data


class ExperimentPatchSchema(ExperimentCreateSchema):
    """Any subset of the experiment's fields."""

    name = ma.fields.String(**_name)
    description = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))
    public = ma.fields.Boolean()
    permissions = ma.fields.List(ma.fields.Nested(PermissionSchema), **_permissions)


# `owner` is searchable here only, where `Experiments.visible_to` limits conditions on it to experiments the caller
# owns or manages (the query language itself knows only the fields callers may send).
EXPERIMENT_SEARCH_FIELDS = MappingProxyType({**EXPERIMENT_FIELDS, "owner": FieldKind.ID})
# Who was granted access and who created an experiment are manager-only facts, so not readable through
# result order either (an array sorts by its smallest or largest element).
MANAGER_ONLY_FIELDS = ("permissions", "owner")

ExperimentFilterSchema = search_filter_schema("experiment", EXPERIMENT_SEARCH_FIELDS)
ExperimentSortArgsSchema = sort_args_schema(EXPERIMENT_SEARCH_FIELDS, unsortable=MANAGER_ONLY_FIELDS)


class ExperimentSearchArgsSchema(ExperimentSortArgsSchema):
    with_stats = ma.fields.Boolean(load_default=False, metadata={
        "description": "add `stats` (run counts, drift rate, last run) to each experiment"})
