"""Schemas of users."""

import marshmallow as ma

from ...query_language import USER_FIELDS
from ..common import ResourceSchema, search_filter_schema, sort_args_schema


class UserSchema(ResourceSchema):
    issuer = ma.fields.String(dump_only=True)
    subject = ma.fields.String(dump_only=True)
    email = ma.fields.String(dump_only=True)


UserFilterSchema = search_filter_schema("user", USER_FIELDS)
UserSortArgsSchema = sort_args_schema(USER_FIELDS)
