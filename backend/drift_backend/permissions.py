"""Who may do what on one experiment: the caller's permission level on it, and the checks routes make.

Which experiments a caller may see in a search is a query, so it is built by the repository
(`Experiments.search_visible`); the rules here and there are the same: administrators manage
everything, public experiments are readable by anyone, otherwise a permission entry names one of
the caller's entities (user id or entitlements).
"""

from __future__ import annotations

from .errors import Forbidden, NotFound, Unauthorized
from .extensions.auth import resolve_caller
from .identity import LEVEL_LABELS, Caller, Level

# Re-exported too: routes take the caller, its types and the decisions from this one module.
__all__ = ["LEVEL_LABELS", "Caller", "Level", "level_on", "require_level", "resolve_caller"]


def level_on(caller: Caller, experiment: dict) -> Level | None:
    """The caller's level on an experiment, None when they may not even see it."""
    if caller.is_admin:
        return Level.MANAGE
    granted = [
        Level.from_label(permission["level"])
        for permission in experiment.get("permissions", [])
        if permission["entity"] in caller.entities
    ]
    if experiment.get("public"):
        granted.append(Level.READ)
    return max(granted, default=None)


def require_level(caller: Caller, experiment: dict, needed: Level) -> None:
    """404 when the experiment is invisible to the caller (nothing leaks), 401/403 when too low."""
    level = level_on(caller, experiment)
    if level is None:
        raise NotFound("experiment", experiment["_id"])
    if level < needed:
        if caller.identity is None:
            raise Unauthorized(f"this operation needs {needed.label} permission: send a bearer token",
                               error_code=None)
        raise Forbidden(f"this operation needs {needed.label} permission on the experiment")
