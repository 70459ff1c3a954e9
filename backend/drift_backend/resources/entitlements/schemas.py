"""Schemas of entitlements."""

import marshmallow as ma


class EntitlementsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.String(), metadata={"description": "entitlements of the token, sorted"})
