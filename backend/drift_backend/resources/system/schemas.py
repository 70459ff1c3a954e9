"""Schemas of the service endpoints."""

import marshmallow as ma


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "ok, or unavailable when a dependency fails"})
    database = ma.fields.String(metadata={"description": "ok, or unavailable"})


class VersionSchema(ma.Schema):
    server = ma.fields.String(metadata={"description": "version of the Drift Monitoring server"})
    api = ma.fields.String(metadata={"description": "current API version, also served as /api/latest"})
    api_versions = ma.fields.List(ma.fields.String(), metadata={"description": "API versions served"})
