"""The exceptions raised by the drift-monitor client.

Every error the client raises on purpose derives from ``DriftMonitorError``::

    DriftMonitorError
     ├── ConfigurationError          a setting is missing or invalid (names the variable)
     ├── TransportError              the server could not be reached, or timed out (after retries)
     └── APIError                    the server answered with an error: .status, .message, .errors
          ├── AuthenticationError    401: no token, or an expired / unknown one
          ├── PermissionDenied       403: you lack the permission level, or are not registered
          ├── NotFound               404
          │    └── ExperimentNotFound  no experiment of that name is visible to you (also a ValueError)
          │         └── ExperimentNotOwned  experiments of that name exist, but none is yours: pass its id
          ├── Conflict               409: duplicate name, run id replayed with other content,
          │                               or a finished run's status changed (also a ValueError)
          ├── ValidationError        422: the server refused the body; .errors holds field messages
          │                               (also a ValueError)
          └── ServerError            5xx that persisted after retries (or, to a request not safe
                                          to send twice, at once: see DEFAULT_RETRY)

``ExperimentNotFound``, ``Conflict`` and ``ValidationError`` are also ``ValueError`` because
drift-monitor 1.1 raised ``ValueError`` in those cases.

``InsecureTransportWarning`` (a ``UserWarning``, not an error) is issued when the server URL is
``http://`` on a host other than this machine: access tokens would cross the network unencrypted.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "Conflict",
    "DriftMonitorError",
    "ExperimentNotFound",
    "ExperimentNotOwned",
    "InsecureTransportWarning",
    "NotFound",
    "PermissionDenied",
    "ServerError",
    "TransportError",
    "ValidationError",
]


class DriftMonitorError(Exception):
    """Base of every error raised by the drift-monitor client."""


class ConfigurationError(DriftMonitorError):
    """A required setting is missing or has an invalid value."""


class TransportError(DriftMonitorError):
    """The server could not be reached or did not answer in time, after retries."""


class APIError(DriftMonitorError):
    """The server answered with an error status."""

    def __init__(self, status: int, message: str, errors: Any = None, code: str | None = None,
                 method: str | None = None, url: str | None = None):
        self.status = status
        self.message = message
        self.errors = errors
        self.code = code
        self.method = method
        self.url = url
        where = f" ({method} {url})" if method and url else ""
        detail = f": {errors}" if errors else ""
        super().__init__(f"{status} {message}{detail}{where}")


class AuthenticationError(APIError):
    """401: the request carried no valid access token."""


class PermissionDenied(APIError):
    """403: the caller lacks the permission needed, or is not registered."""


class NotFound(APIError):
    """404: the resource does not exist or is not visible to the caller."""


class ExperimentNotFound(NotFound, ValueError):
    """No experiment of the given name (or id) is visible to the caller."""


class ExperimentNotOwned(ExperimentNotFound):
    """Experiments of that name are visible to the caller, but none is the caller's own.

    Names are resolved among your own experiments only: anyone can create an experiment with
    your experiment's name and grant you Edit on it, and must not receive your runs that way.
    ``experiment_ids`` lists the others' experiments of that name; pass one of them by id to use it.
    """

    def __init__(self, status: int, message: str, experiment_ids: list[str] | None = None, **kwargs: Any):
        super().__init__(status, message, **kwargs)
        self.experiment_ids = list(experiment_ids or [])


class Conflict(APIError, ValueError):
    """409: the request conflicts with the stored state."""


class ValidationError(APIError, ValueError):
    """422: the server refused the request body or arguments."""


class ServerError(APIError):
    """5xx: the server failed, and kept failing after retries; a request not safe to send twice
    (e.g. creating an experiment) is not retried, as the server may have done it before failing."""


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: ValidationError,
}


def error_class(status: int) -> type[APIError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


class InsecureTransportWarning(UserWarning):
    """The server URL is plain ``http://`` on another machine: tokens would travel in clear text."""
