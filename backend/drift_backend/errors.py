"""Domain errors carrying an HTTP status: raised below the routes, translated to HTTP once (extensions/smorest.py).

    DomainError
     ├── Unauthorized   401  no usable bearer token
     ├── Forbidden      403  valid caller without the right
     ├── NotFound       404  no such resource (or not visible to the caller)
     ├── Conflict       409  duplicate name, replayed id with another body, …
     ├── InvalidInput   422  well-formed request that breaks a rule
     ├── Unavailable    503  database or identity provider unreachable
     └── quotas.QuotaExceeded  429  too much work for one user (with Retry-After)
"""

from __future__ import annotations


class DomainError(Exception):
    status = 500

    def __init__(self, message: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


class Unauthorized(DomainError):
    status = 401

    def __init__(self, message: str, error_code: str | None = "invalid_token"):
        # RFC 6750 §3: tell the client how to authenticate, and why the token failed.
        challenge = 'Bearer realm="drift-monitor"'
        if error_code:
            description = message.replace('"', "'")
            challenge += f', error="{error_code}", error_description="{description}"'
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404

    def __init__(self, resource: str, resource_id: str):
        super().__init__(f"{resource} {resource_id!r} not found")


class Conflict(DomainError):
    status = 409


class InvalidInput(DomainError):
    status = 422


class Unavailable(DomainError):
    status = 503
