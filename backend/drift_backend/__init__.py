"""Drift Monitoring API server: `create_app()` builds the Flask application."""

from __future__ import annotations

import atexit
import logging
import weakref

from flask import Flask
from flask_swagger_ui import get_swaggerui_blueprint

from .commands import rebuild_summaries
from .extensions.auth import TokenValidator
from .extensions.mongo import Mongo
from .extensions.smorest import Api
from .repositories.setup import prepare_database
from .repositories.summaries import WRITER_EXTENSION, SummaryWriter
from .repositories.users import UserIdCache
from .resources.drift_analytics.routes import blp as drift_analytics_blp
from .resources.drifts.routes import blp as drifts_blp
from .resources.entitlements.routes import blp as entitlements_blp
from .resources.experiments.routes import blp as experiments_blp
from .resources.system.routes import blp as system_blp
from .resources.users.routes import blp as users_blp
from .settings import Settings
from .version import API_VERSION, __version__

API_PREFIX = f"/api/{API_VERSION}"
MAX_REQUEST_BYTES = 1024 * 1024

# Docs tag order: what a new user meets first.
VERSIONED_BLUEPRINTS = (users_blp, entitlements_blp, experiments_blp, drifts_blp, drift_analytics_blp)

API_DESCRIPTION = """\
Drift Monitoring keeps the drift-detection runs that training and inference jobs report.

Authenticate with an OIDC access token of a trusted issuer (`Authorization: Bearer …`).
Register once (`POST /user`), create an experiment, then report drift runs to it.
Anonymous callers may read public experiments. Search bodies are MongoDB-style filters
restricted to an allowlist of fields and operators; results are paginated with
`page`/`page_size` and described in the `X-Pagination` header.
`/api/latest/…` is an alias of the current version (`/api/v1/…`).
Overviews (`/experiment/{id}/drift/summary`, `/series`, `/heatmap`, `/facets`) aggregate an
experiment's runs on the server, so dashboards never page through every run.
Errors are JSON: `{code, status, message, errors}`.
"""


def create_app(settings: Settings | None = None, summary_writer: SummaryWriter | None = None) -> Flask:
    """The application; `summary_writer` replaces the one built from settings (tests)."""
    settings = settings or Settings.from_environ()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app = Flask(__name__)
    # Parameters come back in the order they were sent.
    app.json.sort_keys = False
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        API_TITLE="Drift Monitoring API",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"info": {"description": API_DESCRIPTION, "license": {"name": "Apache-2.0"}}},
    )

    app.extensions["settings"] = settings
    writer = summary_writer if summary_writer is not None else SummaryWriter(settings.summary_delay_ms / 1000)
    app.extensions[WRITER_EXTENSION] = writer
    # Counter changes still waiting go out before the client does, and when the process exits
    # (gunicorn workers close the client in worker_exit). A weak reference: an app that is gone has
    # closed its writer already and should not be kept alive until exit.
    app.extensions["mongo"] = Mongo(settings, prepare=prepare_database, before_close=writer.close)
    atexit.register(_close_if_alive, weakref.ref(writer))
    app.extensions["token_validator"] = TokenValidator(settings)
    app.extensions["user_id_cache"] = UserIdCache()

    api = Api(app)
    for blueprint in VERSIONED_BLUEPRINTS:
        api.register_blueprint(blueprint, url_prefix=f"{API_PREFIX}{blueprint.url_prefix}")
    api.register_blueprint(system_blp)
    # Swagger UI assets are served from the package: /api/docs works without internet access.
    app.register_blueprint(get_swaggerui_blueprint("/api/docs", f"{API_PREFIX}/openapi.json",
                                                   config={"app_name": "Drift Monitoring API"}))

    app.cli.add_command(rebuild_summaries)
    app.wsgi_app = LatestVersionAlias(app.wsgi_app)
    return app


def _close_if_alive(writer_ref: weakref.ref) -> None:
    writer = writer_ref()
    if writer is not None:
        writer.close()


class LatestVersionAlias:
    """Serves `/api/latest/…` as the current version, without duplicating routes or docs."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/api/latest" or path.startswith("/api/latest/"):
            environ["PATH_INFO"] = API_PREFIX + path[len("/api/latest"):]
        return self.wsgi_app(environ, start_response)
