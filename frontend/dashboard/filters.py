"""The filters shared by an experiment's views, and their one translation into the client's run filter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .markdown import literal

# The option texts double as URL values: widgets bound to query parameters put the text shown
# in the URL, so these read well in both places (`?range=All+time&detected=yes`).
RANGE_DAYS: dict[str, int | None] = {
    "Last 7 days": 7,
    "Last 30 days": 30,
    "Last 90 days": 90,
    "All time": None,
    "Custom dates": None,
}
DEFAULT_RANGE = "Last 90 days"
CUSTOM_RANGE = "Custom dates"
JOB_STATUSES = ("Running", "Completed", "Failed")
DRIFT_TYPES = ("any", "concept", "data")
DETECTED = ("any", "yes", "no")

#: The query parameters of an experiment's views (`experiment` is kept by the app frame).
QUERY_KEYS = ("experiment", "range", "since", "until", "model", "tag", "status", "drift_type", "detected")


def utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Filters:
    """What the user narrowed an experiment's runs down to; dates are UTC days, ``until`` inclusive."""

    range: str = DEFAULT_RANGE
    since: dt.date | None = None
    until: dt.date | None = None
    models: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    drift_type: str = "any"
    detected: str = "any"

    def problems(self) -> list[str]:
        """Why these filters cannot be applied, in words the user can act on; empty when fine.

        Markdown (the page shows them in an error box): values that came from the URL are escaped."""
        found = []
        if self.range not in RANGE_DAYS:
            found.append(f"unknown time range {literal(repr(self.range))}; choose one of: {', '.join(RANGE_DAYS)}")
        if self.range == CUSTOM_RANGE and self.since and self.until and self.since > self.until:
            found.append(f"the start date {self.since} is after the end date {self.until}; swap them")
        unknown = sorted(set(self.statuses) - set(JOB_STATUSES))
        if unknown:
            found.append(f"unknown job status {literal(', '.join(unknown))}; use {', '.join(JOB_STATUSES)}")
        if self.drift_type not in DRIFT_TYPES:
            found.append(f"unknown drift type {literal(repr(self.drift_type))}; use {', '.join(DRIFT_TYPES)}")
        if self.detected not in DETECTED:
            found.append(f"'detected' must be one of {', '.join(DETECTED)}, not {literal(repr(self.detected))}")
        return found

    def window(self, today: dt.date) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The time window ``[since, until)`` in UTC; None where open."""
        if self.range == CUSTOM_RANGE:
            since = utc_midnight(self.since) if self.since else None
            # The end date is inclusive for people: the window closes at the next midnight.
            until = utc_midnight(self.until + dt.timedelta(days=1)) if self.until else None
            return since, until
        days = RANGE_DAYS.get(self.range)
        if days is None:
            return None, None
        # Whole UTC days, so that the figures match the day buckets of the drift summary.
        return utc_midnight(today - dt.timedelta(days=days)), None

    def api_arguments(self, today: dt.date) -> dict[str, Any]:
        """The client's run-filter keywords: of Client.drift_summary, parameter_series and feature_heatmap,
        and of the run searches (drifts_page, iter_drifts), so every view shows the same runs."""
        since, until = self.window(today)
        return {
            "since": since,
            "until": until,
            "models": list(self.models) or None,
            "tags": list(self.tags) or None,
            "job_statuses": list(self.statuses) or None,
            "drift_type": None if self.drift_type == "any" else self.drift_type,
            "detected": None if self.detected == "any" else self.detected == "yes",
        }

    def describe(self, today: dt.date) -> str:
        """One line saying what is shown, e.g. for a caption under the figures.

        Markdown: models, tags and statuses come from the URL (a shared link), so they are escaped and
        a link like ``?model=[x](javascript:...)`` shows those characters rather than a link."""
        since, until = self.window(today)
        if since and until:
            parts = [f"{since:%Y-%m-%d} to {until - dt.timedelta(days=1):%Y-%m-%d}"]
        elif since:
            parts = [f"since {since:%Y-%m-%d}"]
        elif until:
            parts = [f"until {until - dt.timedelta(days=1):%Y-%m-%d}"]
        else:
            parts = ["all time"]
        if self.models:
            parts.append("model " + ", ".join(map(literal, self.models)))
        if self.tags:
            parts.append("tags " + " + ".join(map(literal, self.tags)))
        if self.statuses:
            parts.append("status " + ", ".join(map(literal, self.statuses)))
        if self.drift_type != "any" or self.detected != "any":
            kind = "any drift" if self.drift_type == "any" else f"{self.drift_type} drift"
            parts.append(kind + {"any": " reported", "yes": " detected", "no": " not detected"}[self.detected])
        return " · ".join(parts)
