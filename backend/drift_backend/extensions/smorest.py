"""The documented API: flask-smorest `Api` and `Blueprint` with our error shape and access rules.

Every error leaves as JSON `{code, status, message, errors}`; who may call an operation is
declared once per view with `@blp.access(...)`, which both enforces it and documents it.
"""

from __future__ import annotations

import enum
import functools
import logging

import flask
import flask_smorest
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure, PyMongoError, WTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from ..errors import DomainError, Unavailable
from .auth import resolve_caller

log = logging.getLogger(__name__)

BEARER_SCHEME = "bearerAuth"
# MongoDB's Unauthorized and AuthenticationFailed: the service's own credentials are wrong.
DATABASE_REFUSED_CREDENTIALS = {13, 18}


class Access(enum.Enum):
    """Who may call an operation."""

    ANYONE = "anyone, a token widens what is visible"
    TOKEN = "any valid bearer token"
    REGISTERED = "a registered user"
    ADMIN = "an administrator"


def _summarise(errors: object, path: str = "") -> str:
    """First validation error as 'json.name: Missing data…', so `message` names the problem."""
    if isinstance(errors, dict) and errors:
        key, value = next(iter(errors.items()))
        return _summarise(value, f"{path}.{key}" if path else str(key))
    if isinstance(errors, list) and errors:
        return _summarise(errors[0], path)
    return f"{path}: {errors}" if path else str(errors)


class Api(flask_smorest.Api):
    def init_app(self, app, *, spec_kwargs=None):
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.spec.components.security_scheme(
            BEARER_SCHEME,
            {"type": "http", "scheme": "bearer", "description": "OIDC access token of a trusted issuer"},
        )
        app.register_error_handler(DomainError, self._handle_domain_error)
        app.register_error_handler(PyMongoError, self._handle_database_error)
        app.register_error_handler(RecursionError, self._handle_recursion_error)
        app.register_error_handler(Exception, self._handle_unexpected_error)

    def handle_http_exception(self, error: HTTPException):
        payload, status, headers = super().handle_http_exception(error)
        payload.setdefault("errors", {})
        if "message" not in payload:
            payload["message"] = _summarise(payload["errors"]) if payload["errors"] else error.description
        return payload, status, headers

    def _handle_domain_error(self, error: DomainError):
        http_error = default_exceptions[error.status]()
        http_error.data = {"message": error.message, "errors": error.errors, "headers": error.headers}
        return self.handle_http_exception(http_error)

    def _handle_recursion_error(self, error: RecursionError):
        # Nothing in the service recurses deeply on its own: what does is decoding or validating a
        # request body nested thousands of levels deep (json.loads raises this, not a decode error).
        log.info("refused a request nested too deeply: %s", error)
        http_error = default_exceptions[400]()
        http_error.data = {"message": "the request body is nested too deeply", "errors": {}, "headers": {}}
        return self.handle_http_exception(http_error)

    def _handle_database_error(self, error: PyMongoError):
        if isinstance(error, ExecutionTimeout):
            # A query ran past APP_DB_MAX_TIME_MS (repositories.max_time_ms): 503 like an overloaded database, because retrying
            # later (or narrower) may succeed and clients already back off on it; not 504, which
            # says a gateway in front of us gave up, nor 408, which blames the client's sending.
            limit_ms = flask.current_app.extensions["settings"].db_max_time_ms
            log.warning("a request exceeded its database time limit of %s ms: %s", limit_ms, error)
            return self._handle_domain_error(Unavailable(
                f"a database query of the request ran past the time limit of {limit_ms} ms; "
                "narrow the filter (a shorter time window, fewer or anchored regular expressions) or try again later",
                errors={"database": [f"time limit of {limit_ms} ms exceeded"]},
            ))
        if isinstance(error, (ConnectionFailure, WTimeoutError)) or error.timeout:
            # The error names hosts and replica-set members: the log gets it, the caller does not.
            log.warning("database unavailable: %s", error, exc_info=error)
            return self._handle_domain_error(Unavailable("the database is unavailable; try again shortly"))
        if isinstance(error, OperationFailure) and error.code in DATABASE_REFUSED_CREDENTIALS:
            # A deployment problem, not the caller's: operators see it in the log, callers get a 503.
            log.error("the database refused the service's credentials: %s", error, exc_info=error)
            return self._handle_domain_error(Unavailable("the database is unavailable; try again shortly"))
        return self._handle_unexpected_error(error)

    def _handle_unexpected_error(self, error: Exception):
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        # Logged with its trace for operators; the caller gets no internals.
        log.exception("unexpected error")
        return self.handle_http_exception(InternalServerError())


class Blueprint(flask_smorest.Blueprint):
    def access(self, who: Access):
        """Enforce and document who may call the decorated view (place it above the others)."""

        def decorator(view):
            @functools.wraps(view)
            def wrapper(*args, **kwargs):
                caller = resolve_caller()
                if who is Access.TOKEN:
                    caller.require_token()
                elif who is Access.REGISTERED:
                    caller.require_registered()
                elif who is Access.ADMIN:
                    caller.require_admin()
                return view(*args, **kwargs)

            security = [{BEARER_SCHEME: []}]
            documented = self.alt_response(401, response="UNAUTHORIZED")(wrapper)
            if who is Access.ANYONE:
                security = [{}, *security]
            else:
                documented = self.alt_response(403, response="FORBIDDEN")(documented)
            return self.doc(security=security)(documented)

        return decorator
