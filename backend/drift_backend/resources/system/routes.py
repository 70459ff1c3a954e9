"""GET /api/health and GET /api/version."""

import flask
from pymongo.errors import PyMongoError

from ...extensions.smorest import Blueprint
from ...version import API_VERSION, __version__
from .schemas import HealthSchema, VersionSchema

blp = Blueprint("system", __name__, url_prefix="/api", description="Service health and version")


@blp.route("/health")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database does not answer")
def health():
    """Whether the service and its database answer"""
    try:
        flask.current_app.extensions["mongo"].ping()
    except PyMongoError:
        return {"status": "unavailable", "database": "unavailable"}, 503
    return {"status": "ok", "database": "ok"}


@blp.route("/version")
@blp.response(200, VersionSchema)
def version():
    """Server and API versions"""
    return {"server": __version__, "api": API_VERSION, "api_versions": [API_VERSION]}
