"""Which drift runs an overview or a run search covers (`RunFilter`), as MongoDB queries and as a test of counters."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..run_document import DRIFT_TYPES, OUTCOME_KEY
from .summaries import digest_key, utc_day

__all__ = ["RunFilter", "conjoin"]


def conjoin(query: dict, also: dict | None) -> dict:
    """`query` AND `also` (two query documents), flat where their fields differ.

    Conditions stay at the top level where they can, so that the (experiment_id, …) indexes apply
    to `query`'s; a field both constrain goes into an `$and`, since merging the two documents would
    let one condition replace the other.
    """
    if not also:
        return dict(query)
    combined = {**also, **query}
    shared = [field for field in also if field in query]
    if shared:
        conditions = {field: also[field] for field in shared if field != "$and"}
        combined["$and"] = [*query.get("$and", []), *also.get("$and", []), *([conditions] if conditions else [])]
    return combined


@dataclass(frozen=True)
class RunFilter:
    """Which runs an overview or a search covers. Every condition is optional; lists match any of their
    values, except `tags`, which a run must all carry."""

    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    models: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    job_statuses: tuple[str, ...] = ()
    drift_type: str | None = None  # "concept" | "data"
    detected: bool | None = None

    def whole_days(self) -> RunFilter:
        """The same filter with its time window widened to whole UTC days, as the counters are kept."""
        until = self.until
        if until is not None and until != utc_day(until):
            until = utc_day(until) + timedelta(days=1)
        return replace(self, since=utc_day(self.since) if self.since else None, until=until)

    def runs_query(self, experiment_id: str, also: dict | None = None) -> dict:
        """The query of these runs of the experiment that also match `also` (e.g. a compiled search filter)."""
        query: dict = {"experiment_id": experiment_id}
        window = {}
        if self.since is not None:
            window["$gte"] = self.since
        if self.until is not None:
            window["$lt"] = self.until
        if window:
            query["created_at"] = window
        if self.models:
            query["model"] = {"$in": list(self.models)}
        if self.job_statuses:
            query["job_status"] = {"$in": list(self.job_statuses)}
        if self.tags:
            query["tags"] = {"$all": list(self.tags)}
        if self.drift_type is not None:
            # Runs that have this result: its outcome is a boolean exactly when the result is there.
            outcome = f"{DRIFT_TYPES[self.drift_type]}.{OUTCOME_KEY}"
            query[outcome] = self.detected if self.detected is not None else {"$in": [True, False]}
        elif self.detected is not None:
            query["drift_detected"] = self.detected
        return conjoin(query, also)

    def match_stages(self, experiment_id: str, extra: dict | None = None) -> list[dict]:
        """`$match` stages selecting these runs (and `extra` conditions): first what an index serves, then the rest.

        The embedded development server scans the whole collection as soon as a query holds a condition its
        index does not cover; a first stage of index-served conditions alone keeps it to the experiment's
        runs in the window. MongoDB merges consecutive `$match` stages and plans them as one.
        """
        query = self.runs_query(experiment_id, extra)
        served = ("experiment_id", "created_at") if "created_at" in query else ("experiment_id", "model")
        first = {field: condition for field, condition in query.items() if field in served}
        rest = {field: condition for field, condition in query.items() if field not in served}
        return [{"$match": first}, *([{"$match": rest}] if rest else [])]

    def digest_keys(self) -> list[str] | None:
        """The `stats` entries (by drift_detected) holding these runs' digests; None when the digests are
        not split by what this filter selects on (tags, job status, a result's outcome)."""
        if self.tags or self.job_statuses or self.drift_type is not None:
            return None
        return [digest_key(self.detected)] if self.detected is not None else [digest_key(value)
                                                                             for value in (True, False, None)]

    def matches_counter(self, row: dict) -> bool:
        """Whether a counter (or a summary-shaped row) counts runs this filter selects; ignores tags."""
        if self.since is not None and row["day"] < utc_day(self.since):
            return False
        if self.until is not None and row["day"] >= self.until:
            return False
        if self.models and row["model"] not in self.models:
            return False
        if self.job_statuses and row["job_status"] not in self.job_statuses:
            return False
        if self.drift_type is not None:
            outcome = row[self.drift_type]
            return outcome is not None if self.detected is None else outcome is self.detected
        return self.detected is None or row["drift_detected"] is self.detected
