"""Schemas and helpers shared by the resources: timestamps, search bodies, sorting, paging."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timezone

import flask
import marshmallow as ma
from marshmallow import validate

from ..query_language import FieldKind, QueryLanguageError, compile_filter
from ..repositories import Page

MAX_SEARCH_BODY_BYTES = 64 * 1024


class UtcDateTime(ma.fields.DateTime):
    """ISO 8601 in UTC with a `Z`, e.g. 2026-11-22T14:03:07.125Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:  # BSON dates are UTC
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is not None:
            try:  # 0001-01-01T00:00:00+01:00 is a valid ISO date that has no UTC equivalent
                moment.astimezone(timezone.utc)
            except OverflowError:
                raise ma.ValidationError("the date is out of range once converted to UTC") from None
        return moment


class ResourceSchema(ma.Schema):
    """Fields every stored resource has."""

    id = ma.fields.String(attribute="_id", dump_only=True, metadata={"description": "UUID"})
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


def search_filter_schema(resource: str, fields: Mapping[str, FieldKind]) -> type[ma.Schema]:
    """A request-body schema that checks a MongoDB-style filter and compiles it for pymongo."""
    allowed = ", ".join(sorted(fields))

    class SearchFilter(ma.Schema):
        class Meta:
            unknown = ma.INCLUDE
            # Documented as a free-form object: the allowlist lives in the description.
            title = f"{resource.capitalize()}Filter"

        @ma.pre_load
        def check_size(self, data, **kwargs):
            if (flask.request.content_length or 0) > MAX_SEARCH_BODY_BYTES:
                raise ma.ValidationError(f"the filter is larger than {MAX_SEARCH_BODY_BYTES // 1024} KiB")
            return data

        @ma.post_load
        def compile(self, data, **kwargs):
            try:
                return compile_filter(data, fields)
            except QueryLanguageError as error:
                raise ma.ValidationError(error.message, field_name=error.path or "_schema") from None

    SearchFilter.__name__ = f"{resource.capitalize()}Filter"
    SearchFilter.__doc__ = (
        f"A MongoDB-style filter on {resource} fields ({allowed}; dotted paths below object fields). "
        "Operators: $eq $ne $gt $gte $lt $lte $in $nin $all $exists $regex $and $or $nor $not $size. "
        "Dates accept ISO 8601 strings. An empty object matches everything."
    )
    return SearchFilter


def sort_args_schema(fields: Mapping[str, FieldKind], default: str = "created_at",
                     unsortable: tuple[str, ...] = ()) -> type[ma.Schema]:
    """Query arguments `sort_by` (a field, or a dotted path below an object field) and `order_by`.

    Fields below an ``unsortable`` prefix can be filtered on but not sorted by: the order of results
    would reveal values of documents the caller may see but whose field it may not read (an array
    sorts by its smallest or largest element).
    """
    def hidden(name: str) -> bool:
        return any(name == prefix or name.startswith(f"{prefix}.") for prefix in unsortable)

    sortable = [name for name, kind in fields.items() if kind is not FieldKind.DOCUMENT and not hidden(name)]
    documents = [name for name, kind in fields.items() if kind is FieldKind.DOCUMENT and not hidden(name)]

    def check_sort_field(name: str) -> None:
        if hidden(name):
            pass
        elif name in sortable or any(name.startswith(f"{document}.") for document in documents):
            if all(name.split(".")) and "$" not in name:
                return
        raise ma.ValidationError(f"cannot sort by {name!r}; sortable fields: {', '.join(sorted(sortable))}"
                                 + (f", or a path below {', '.join(documents)}" if documents else ""))

    class SortArgs(ma.Schema):
        class Meta:
            unknown = ma.EXCLUDE  # page and page_size are read by the pagination decorator

        sort_by = ma.fields.String(load_default=default, validate=check_sort_field)
        order_by = ma.fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))

    return SortArgs


def search_page(compiled_filter: dict, sort_args: dict, pagination) -> Page:
    field = "_id" if sort_args["sort_by"] == "id" else sort_args["sort_by"]
    direction = 1 if sort_args["order_by"] == "asc" else -1
    return Page(compiled_filter, [(field, direction)], pagination.page, pagination.page_size)


MAX_JSON_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_json_object(value: dict) -> None:
    """Free-form parameters must round-trip through JSON and BSON unchanged."""

    def walk(node, path: str, depth: int) -> None:
        if depth > MAX_JSON_DEPTH:
            raise ma.ValidationError(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, int) and not isinstance(node, bool) and not INT64_MIN <= node <= INT64_MAX:
            raise ma.ValidationError(f"{path}: integers must fit in 64 bits (BSON int64); send it as a string")
        if isinstance(node, float) and not math.isfinite(node):
            raise ma.ValidationError(f"{path}: NaN and Infinity are not valid JSON numbers")
        if isinstance(node, dict):
            for key, child in node.items():
                if "\x00" in key:
                    raise ma.ValidationError(f"{path}: keys may not contain NUL characters")
                walk(child, f"{path}.{key}", depth + 1)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}[{index}]", depth + 1)

    walk(value, "parameters", 1)


class JsonObject(ma.fields.Dict):
    """A free-form JSON object, stored and returned exactly as sent."""

    def __init__(self, **kwargs):
        super().__init__(validate=check_json_object, **kwargs)
