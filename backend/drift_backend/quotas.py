"""Per-user quotas: experiments owned and drift runs reported per minute; past one, 429 with Retry-After.

Quotas keep one user (or one leaked token) from filling the database or taking every worker. They
count per user id, so they hold across gunicorn workers and API replicas. Administrators are not
exempt: an administrator's token is as easily leaked, and an operator who needs more raises the
setting for everyone (or sets it to 0, unlimited).
"""

from __future__ import annotations

import math
from datetime import timedelta

import flask

from .errors import DomainError
from .identity import Caller
from .repositories.experiments import Experiments
from .repositories.quotas import QuotaWindows

RUNS_COUNTER = "runs"


class QuotaExceeded(DomainError):
    """429: the caller did too much; `Retry-After` says when to try again (for windows)."""

    status = 429

    def __init__(self, message: str, quota: str, limit: int, retry_after: timedelta | None = None):
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after.total_seconds())))
        super().__init__(message, errors={"quota": {quota: [f"limit {limit}"]}}, headers=headers)


# Only deleting experiments frees this quota, so no wait is right; a minute (like the run windows)
# keeps retrying clients polite without stalling one that honours Retry-After for long.
EXPERIMENTS_RETRY_AFTER = timedelta(minutes=1)


def check_experiment_quota(user_id: str) -> None:
    """Before creating an experiment owned by `user_id` (concurrent creations may pass it by a few)."""
    limit = _settings().quota_experiments_per_user
    if limit and Experiments.from_app().count_owned(user_id) >= limit:
        raise QuotaExceeded(f"you own {limit} experiments, the most allowed (APP_QUOTA_EXPERIMENTS_PER_USER); "
                            "delete some before creating more", "experiments_per_user", limit,
                            EXPERIMENTS_RETRY_AFTER)


def count_drift_run(caller: Caller) -> None:
    """Count a drift run the caller reports; refuses the run once the minute's quota is used."""
    limit = _settings().quota_runs_per_minute
    if not limit:
        return
    identity = caller.require_token()
    # Runs may come from a token whose user never registered (group permissions): count its identity.
    holder = caller.user_id or f"{identity.issuer} {identity.subject}"
    retry_after = QuotaWindows.from_app().take(RUNS_COUNTER, holder, limit)
    if retry_after is not None:
        raise QuotaExceeded(f"you reported {limit} drift runs this minute, the most allowed "
                            "(APP_QUOTA_RUNS_PER_MINUTE); retry after the Retry-After seconds",
                            "runs_per_minute", limit, retry_after)


def _settings():
    return flask.current_app.extensions["settings"]
