"""Per-day counters of drift runs (`drift_summaries`), kept exact as runs are written.

A run is counted under its key: experiment, UTC day of `created_at`, model, job status, the concept
and data drift outcomes (true, false, or null without that result) and `drift_detected`. One document
holds the counters of one (experiment, day, model), the rest of the key being a field of its `counts`:

    {_id, experiment_id, day, model,
     runs, running, completed, failed, drift_detected, completed_detected,   # totals, for experiment lists
     first_created_at, last_created_at,
     counts: {"Completed|true|null|true": {runs, first_created_at, last_created_at}, ...},
     incomplete,                                                    # runs whose digest misses a number
     stats: {"true" | "false" | "null":                             # the runs' drift_detected
               {"parameters" | "concept_drift.parameters" | "data_drift.parameters" (nested):
                  {"<encoded path>": {n, sum, min, max, det}}}}}

`stats` digests the numbers below a run's parameter objects (see `numeric_leaves`), so that the heatmap
and long parameter series read a few hundred documents instead of every run. Like first/last_created_at,
a digest's min and max only widen: after a run is removed or changed they may be loose until a rebuild;
n, sum and det stay exact. The digests ride on the same one update per run write as the counters.

Overviews read these few hundred documents per experiment instead of scanning the runs. A run write
updates one document with `$inc` (which commutes, so concurrent writers leave exact counts): a change of
status or results moves the run between two `counts` entries of the same document, so every run write
costs one counter update, two only when a PATCH changes the model. The counter update is a second
write after the run's own: a process that dies between the two leaves the counts off by that run until
`flask rebuild-summaries` recomputes them from the runs. A rebuild itself is exact only for runs not
written while it runs (it replaces the counts of one experiment at a time).
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pymongo
from bson.decimal128 import Decimal128
from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from . import current_db, max_time_ms, max_time_option, utc_now

log = logging.getLogger(__name__)

COLLECTION = "drift_summaries"
# The key fields inside one document's `counts`, in the order of the entry names.
ENTRY_FIELDS = ("job_status", "concept", "data", "drift_detected")
# Per-document totals, kept for lists of experiments (`with_stats`).
TOTALS = ("runs", "running", "completed", "failed", "drift_detected", "completed_detected")
# The `meta` document that says the counters exist for every run; a bump of the version
# (a changed layout) rebuilds them at the next start.
META_ID = COLLECTION
# 2: digests of numeric parameters (`stats`, `incomplete`).
META_VERSION = 2
# A start-up rebuild that stopped beating for this long died with its process: another may take over.
BUILD_STALE_AFTER = timedelta(minutes=10)
# A rebuild is maintenance, not a request: reading one experiment's runs may take much longer than the
# per-request socket timeout (30 to 60 s per 100,000 runs on the embedded development server).
REBUILD_TIMEOUT_SECONDS = 3600

# The parameter objects whose numbers are digested, as dotted paths in a run.
DIGEST_ROOTS = ("parameters", "concept_drift.parameters", "data_drift.parameters")
# Bounds on what one run adds to its document, which every run of the day and model shares (16 MB at most)
# and which one update rewrites: numbers at most 6 keys below a root (deep enough for
# `data_drift.parameters.features.<feature>.<statistic>`), at most 300 of them per run, paths of at most
# 400 characters once encoded. A run with more, or with numbers a digest cannot hold exactly (decimals,
# NaN, infinities) or cannot name (empty keys), counts as `incomplete`: reads then go to the runs.
DIGEST_MAX_DEPTH = 6
DIGEST_MAX_LEAVES = 300
DIGEST_MAX_PATH = 400
# Per-feature objects of a result: `<result>.parameters.features.<feature>`, or (the older layout)
# objects directly under `<result>.parameters` other than `features`.
FEATURES_KEY = "features"
FEATURE_FLAGS = ("drifted", "drift")
# Characters a field name segment must not carry: `.` and `$` break MongoDB paths, `/` joins the
# segments of a digest's path, `%` introduces the escapes themselves.
_ESCAPED = {char: f"%{ord(char):02X}" for char in "%./$"}


def create_indexes(db: Database) -> None:
    db[COLLECTION].create_index([("experiment_id", ASCENDING), ("day", ASCENDING)], name="experiment_day")


def utc_day(moment: datetime) -> datetime:
    """Midnight UTC of the day `moment` falls on (BSON dates are UTC; naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)


def _outcome(run: dict, result_field: str) -> bool | None:
    result = run.get(result_field)
    return None if result is None else result.get("drift")


def summary_key(run: dict) -> dict:
    """Everything that decides where a run is counted."""
    return {
        "experiment_id": run["experiment_id"],
        "day": utc_day(run["created_at"]),
        "model": run.get("model"),
        "job_status": run.get("job_status"),
        "concept": _outcome(run, "concept_drift"),
        "data": _outcome(run, "data_drift"),
        "drift_detected": run.get("drift_detected"),
    }


def summary_id(key: dict) -> str:
    """The `_id` of a key's document, so that every writer of one (experiment, day, model) meets on it."""
    return json.dumps([key["experiment_id"], key["day"].strftime("%Y-%m-%d"), key["model"]])


def entry_name(key: dict) -> str:
    """The name of a key's entry in its document's `counts`, e.g. "Completed|true|null|true"."""
    return "|".join(json.dumps(key[field]) if field != "job_status" else str(key[field])
                    for field in ENTRY_FIELDS)


def _entry_key(name: str) -> dict:
    status, *outcomes = name.split("|")
    return {"job_status": None if status == "None" else status,
            **{field: json.loads(value) for field, value in zip(ENTRY_FIELDS[1:], outcomes, strict=True)}}


def _totals_of(key: dict) -> dict[str, int]:
    """What one run under `key` adds to its document's totals."""
    detected = key["drift_detected"] is True
    totals = {"runs": 1, "drift_detected": int(detected), "completed_detected": 0}
    status_total = {"Running": "running", "Completed": "completed", "Failed": "failed"}.get(key["job_status"])
    if status_total:
        totals[status_total] = 1
    if key["job_status"] == "Completed" and detected:
        totals["completed_detected"] = 1
    return totals


def counter_updates(changes: Iterable[tuple[dict, int]]) -> dict[str, dict]:
    """Per document id, one update applying every (run, +1 | −1) of `changes`."""
    updates: dict[str, dict] = {}
    for run, delta in changes:
        key = summary_key(run)
        update = updates.setdefault(summary_id(key), {
            "$setOnInsert": {field: key[field] for field in ("experiment_id", "day", "model")},
            "$inc": Counter(), "$min": {}, "$max": {},
        })
        entry = f"counts.{entry_name(key)}"
        update["$inc"][f"{entry}.runs"] += delta
        for total, count in _totals_of(key).items():
            update["$inc"][total] += delta * count
        if delta > 0:
            # Bounds only widen: after a run leaves an entry they may be loose until a rebuild.
            for bound, pick in (("$min", min), ("$max", max)):
                field = "first_created_at" if bound == "$min" else "last_created_at"
                for path in (field, f"{entry}.{field}"):
                    update[bound][path] = pick(update[bound].get(path, run["created_at"]), run["created_at"])
        leaves, complete = numeric_leaves(run)
        if not complete:
            update["$inc"]["incomplete"] += delta
        prefix = f"stats.{digest_key(key['drift_detected'])}"
        for root, name, value, flagged in leaves:
            field = f"{prefix}.{root}.{name}"
            update["$inc"][f"{field}.n"] += delta
            update["$inc"][f"{field}.sum"] += delta * value
            if flagged:
                update["$inc"][f"{field}.det"] += delta
            if delta > 0:
                update["$min"][f"{field}.min"] = min(update["$min"].get(f"{field}.min", value), value)
                update["$max"][f"{field}.max"] = max(update["$max"].get(f"{field}.max", value), value)
    for update in updates.values():
        # A digest's sum is written with its count even when it adds 0, so that every digest has one.
        update["$inc"] = {field: count for field, count in update["$inc"].items()
                          if count or (field.endswith(".sum") and update["$inc"][f"{field[:-4]}.n"])}
        for operator in ("$min", "$max"):
            if not update[operator]:
                del update[operator]
    # A change that cancels out (a move within one entry, same numbers) needs no write: its bounds hold
    # the run already.
    return {doc_id: update for doc_id, update in updates.items() if update["$inc"]}


def encode_segment(segment: str) -> str:
    return "".join(_ESCAPED.get(char, char) for char in segment)


def encode_path(segments: Iterable[str]) -> str:
    """One field name for a path below a digest root: percent-escaped segments joined by `/`."""
    return "/".join(encode_segment(segment) for segment in segments)


def decode_path(name: str) -> list[str]:
    return [unquote(segment) for segment in name.split("/")]


def digest_key(drift_detected) -> str:
    """The name under `stats` of runs with this `drift_detected` ("true", "false" or "null")."""
    return json.dumps(drift_detected if isinstance(drift_detected, bool) else None)


def _is_feature(root: str, segments: list[str]) -> bool:
    """Whether `segments` (below `root`) name a per-feature object of a result."""
    if root == "parameters":
        return False
    return (len(segments) == 1 and segments[0] != FEATURES_KEY) or (len(segments) == 2 and segments[0] == FEATURES_KEY)


def numeric_leaves(run: dict) -> tuple[list[tuple[str, str, float, bool]], bool]:
    """The digested numbers of a run as (root, encoded path, value, feature flagged), and whether that is all.

    `feature flagged` is true for a statistic of a per-feature object that says `drifted: true` (or
    `drift: true`), as the heatmap counts detections.
    """
    leaves: list[tuple[str, str, float, bool]] = []
    complete = True

    def walk(root: str, node: dict, segments: list[str], flagged: bool) -> None:
        nonlocal complete
        for key, value in node.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, dict, Decimal128)):
                continue
            path = [*segments, key]
            if isinstance(value, dict):
                if len(path) < DIGEST_MAX_DEPTH:
                    walk(root, value, path, _is_feature(root, path) and
                         any(value.get(flag) is True for flag in FEATURE_FLAGS))
                continue
            name = encode_path(path)
            if (not all(path) or len(name) > DIGEST_MAX_PATH or isinstance(value, Decimal128)
                    or not math.isfinite(value) or len(leaves) >= DIGEST_MAX_LEAVES):
                complete = False
                continue
            leaves.append((root, name, float(value), flagged))

    for root in DIGEST_ROOTS:
        node = run
        for part in root.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            walk(root, node, [], False)
    return leaves, complete


def summary_rows(document: dict) -> list[dict]:
    """The counters of one document as rows: key fields, runs, first/last_created_at."""
    return [
        {"day": document["day"], "model": document.get("model"), **_entry_key(name), "runs": entry.get("runs", 0),
         "first_created_at": entry.get("first_created_at"), "last_created_at": entry.get("last_created_at")}
        for name, entry in (document.get("counts") or {}).items()
    ]


# The same key as `summary_key`, computed by the server; `$ifNull` makes a missing field null
# (as the Python side reads it) instead of leaving it out of the group key.
_GROUP_KEY = {
    "day": {"$dateTrunc": {"date": "$created_at", "unit": "day", "timezone": "UTC"}},
    "model": {"$ifNull": ["$model", None]},
    "job_status": {"$ifNull": ["$job_status", None]},
    "concept": {"$ifNull": ["$concept_drift.drift", None]},
    "data": {"$ifNull": ["$data_drift.drift", None]},
    "drift_detected": {"$ifNull": ["$drift_detected", None]},
}


def group_runs(db: Database, match_stages: list[dict]) -> list[dict]:
    """Rows like `summary_rows` gives, computed from the runs that `match_stages` select."""
    pipeline = [
        *match_stages,
        {"$group": {
            "_id": _GROUP_KEY,
            "runs": {"$sum": 1},
            "first_created_at": {"$min": "$created_at"},
            "last_created_at": {"$max": "$created_at"},
        }},
    ]
    return [{**row["_id"], "runs": row["runs"], "first_created_at": row["first_created_at"],
             "last_created_at": row["last_created_at"]}
            for row in db.drifts.aggregate(pipeline, **max_time_option())]


def _documents_of_rows(experiment_id: str, rows: list[dict]) -> list[dict]:
    """Summary documents holding exactly the counts of `rows` (shaped like `group_runs` gives them)."""
    documents: dict[str, dict] = {}
    for row in rows:
        key = {**row, "experiment_id": experiment_id}
        document = documents.setdefault(summary_id(key), {
            "_id": summary_id(key), "experiment_id": experiment_id, "day": key["day"], "model": key["model"],
            **dict.fromkeys(TOTALS, 0), "first_created_at": row["first_created_at"],
            "last_created_at": row["last_created_at"], "counts": {},
        })
        for total, count in _totals_of(key).items():
            document[total] += count * row["runs"]
        document["first_created_at"] = min(document["first_created_at"], row["first_created_at"])
        document["last_created_at"] = max(document["last_created_at"], row["last_created_at"])
        document["counts"][entry_name(key)] = {"runs": row["runs"], "first_created_at": row["first_created_at"],
                                               "last_created_at": row["last_created_at"]}
    return list(documents.values())


# What `rows` reads of a summary document.
_ROWS_PROJECTION = {"_id": 0, "day": 1, "model": 1, "counts": 1}

# What a rebuild reads of each run: the key fields and the digested parameter objects.
_REBUILD_PROJECTION = {"_id": 0, "created_at": 1, "model": 1, "job_status": 1, "drift_detected": 1,
                       "concept_drift": 1, "data_drift": 1, "parameters": 1}


def _rebuilt_documents(experiment_id: str, runs: Iterator[dict]) -> list[dict]:
    """Summary documents holding exactly the counters and digests of `runs`, as the run writes keep them."""
    rows: dict[tuple, dict] = {}
    digests: dict[str, dict] = {}
    incomplete: Counter = Counter()
    for run in runs:
        key = summary_key({**run, "experiment_id": experiment_id})
        row = rows.setdefault(tuple(key.items()), {**key, "runs": 0, "first_created_at": run["created_at"],
                                                   "last_created_at": run["created_at"]})
        row["runs"] += 1
        row["first_created_at"] = min(row["first_created_at"], run["created_at"])
        row["last_created_at"] = max(row["last_created_at"], run["created_at"])
        doc_id = summary_id(key)
        leaves, complete = numeric_leaves(run)
        incomplete[doc_id] += not complete
        by_root = digests.setdefault(doc_id, {}).setdefault(digest_key(key["drift_detected"]), {})
        for root, name, value, flagged in leaves:
            digest = by_root.setdefault(root, {}).get(name)
            if digest is None:
                digest = by_root[root][name] = {"n": 0, "sum": 0.0, "min": value, "max": value}
            digest["n"] += 1
            digest["sum"] += value
            digest["min"] = min(digest["min"], value)
            digest["max"] = max(digest["max"], value)
            if flagged:
                digest["det"] = digest.get("det", 0) + 1
    documents = _documents_of_rows(experiment_id, [{key: value for key, value in row.items() if key != "experiment_id"}
                                                   for row in rows.values()])
    for document in documents:
        stats = document["stats"] = {}
        for detected, by_root in digests.get(document["_id"], {}).items():
            for root, entries in by_root.items():
                # Nested as the dotted paths of the run writes' `$inc` create them.
                node = stats.setdefault(detected, {})
                for part in root.split("."):
                    node = node.setdefault(part, {})
                node.update(entries)
        if incomplete[document["_id"]]:
            document["incomplete"] = incomplete[document["_id"]]
    return documents


def _write_counter_updates(summaries: Collection, changes: list[tuple[dict, int]]) -> None:
    updates = counter_updates(changes)
    # Upserting a decrement too keeps the counts exact when the updates of one run arrive out of
    # order (a delete racing the create's increment).
    if len(updates) == 1:
        [(doc_id, update)] = updates.items()
        summaries.update_one({"_id": doc_id}, update, upsert=True)
    elif updates:
        summaries.bulk_write([UpdateOne({"_id": doc_id}, update, upsert=True)
                              for doc_id, update in updates.items()], ordered=False)


class _Ticket:
    __slots__ = ("done", "error")

    def __init__(self):
        self.done = False
        self.error: BaseException | None = None


class _CounterWriter:
    """Writes the counter changes of one process, merged: on a timer, or as soon as asked.

    An update's cost grows with its fields, not its increments (about 10 ms for a run's digests on
    the embedded server), and most runs of a day share one summary document: so one merged update
    can count many runs. With a delay, requests do not wait for their counters at all (they are
    written within `delay` seconds, and at once before any read of this process, so a process
    reads its own writes); a process killed in between leaves its last changes uncounted until
    `flask rebuild-summaries`. Without a delay each request waits for a write of its changes,
    merged with those of the requests that arrived while the previous write ran.
    """

    def __init__(self, summaries: Collection):
        self._summaries = summaries
        self.client = summaries.database.client
        self._condition = threading.Condition()
        self._pending: list[tuple[list[tuple[dict, int]], _Ticket]] = []
        self._writing = False
        self._timer: threading.Timer | None = None

    def submit(self, changes: list[tuple[dict, int]]) -> None:
        if _flush_delay_seconds <= 0:
            self._write_and_wait(changes)
            return
        with self._condition:
            self._pending.append((changes, _Ticket()))
            if self._timer is None:
                self._timer = threading.Timer(_flush_delay_seconds, self._flush_quietly)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Write every pending change now (before a read, at exit); raises if the write fails."""
        self._write_and_wait([])

    def _flush_quietly(self) -> None:
        with self._condition:
            self._timer = None
        try:
            self.flush()
        except pymongo.errors.InvalidOperation:  # the client was closed: its process is going away
            log.error("drift summary counters dropped with a closed database client; run `flask rebuild-summaries`")
            with self._condition:
                self._pending.clear()
        except Exception:  # kept pending (see _write_and_wait): try again after another delay
            log.warning("could not write drift summary counters; will retry", exc_info=True)
            with self._condition:
                if self._timer is None and self._pending:
                    self._timer = threading.Timer(max(_flush_delay_seconds, 1.0), self._flush_quietly)
                    self._timer.daemon = True
                    self._timer.start()

    def _write_and_wait(self, changes: list[tuple[dict, int]]) -> None:
        ticket = _Ticket()
        with self._condition:
            self._pending.append((changes, ticket))
            while self._writing and not ticket.done:
                self._condition.wait()
            if ticket.done:
                batch = None
            else:  # nobody is writing: this caller writes everything pending, its own included
                batch, self._pending, self._writing = self._pending, [], True
        if batch is not None:
            error = None
            try:
                merged = [change for changes, _ in batch for change in changes]
                if merged:
                    _write_counter_updates(self._summaries, merged)
            except BaseException as exc:
                error = exc
            with self._condition:
                if error is not None and _flush_delay_seconds > 0:
                    # Deferred changes were already answered for: keep them for the next attempt.
                    self._pending[:0] = [(changes, _Ticket()) for changes, waiting in batch if waiting is not ticket]
                for _, waiting in batch:
                    waiting.done, waiting.error = True, error
                self._writing = False
                self._condition.notify_all()
        if ticket.error is not None:
            raise ticket.error


_flush_delay_seconds = 0.0
_writers: dict[tuple[int, str], _CounterWriter] = {}
_writers_lock = threading.Lock()


def configure(flush_delay_seconds: float) -> None:
    """How long counter changes may wait to be merged (0: each request writes its own, merged)."""
    global _flush_delay_seconds
    _flush_delay_seconds = flush_delay_seconds


def _writer_for(summaries: Collection) -> _CounterWriter:
    key = (id(summaries.database.client), summaries.full_name)
    with _writers_lock:
        writer = _writers.get(key)
        # An id can be reused by a new client once the old one is gone.
        if writer is None or writer.client is not summaries.database.client:
            writer = _writers[key] = _CounterWriter(summaries)
        return writer


def flush_all() -> None:
    """Write this process's pending counter changes (at exit; tests that read the collection)."""
    with _writers_lock:
        writers = list(_writers.values())
    for writer in writers:
        try:
            writer.flush()
        except Exception:
            log.error("drift summary counters could not be written; run `flask rebuild-summaries`",
                      exc_info=True)


atexit.register(flush_all)


class DriftSummaries:
    def __init__(self, db: Database):
        self._db = db
        self._summaries = db[COLLECTION]

    @classmethod
    def from_app(cls) -> DriftSummaries:
        return cls(current_db())

    # Maintenance ------------------------------------------------------------------------

    def added(self, run: dict) -> None:
        self.apply([(run, 1)])

    def removed(self, run: dict) -> None:
        self.apply([(run, -1)])

    def changed(self, before: dict, after: dict) -> None:
        """Move a run from the counter of its old state to that of its new one."""
        self.apply([(before, -1), (after, 1)])

    def apply(self, changes: Iterable[tuple[dict, int]]) -> None:
        """Apply (run, +1 | −1) changes; returns once they are written, together with concurrent ones."""
        _writer_for(self._summaries).submit(list(changes))

    def remove_experiment(self, experiment_id: str) -> None:
        self._flush()  # not to recreate the counters just deleted
        self._summaries.delete_many({"experiment_id": experiment_id})

    # Reads ------------------------------------------------------------------------------

    def _flush(self) -> None:
        """This process reads its own writes: changes still waiting to be merged are written first."""
        _writer_for(self._summaries).flush()

    def rows(self, experiment_id: str) -> list[dict]:
        """Every non-empty counter of an experiment, as rows (see `summary_rows`)."""
        self._flush()
        # The other key fields are filtered by the caller, in Python: this stays one index-range read of
        # the few hundred documents of an experiment, and the caller needs the unfiltered models too.
        # The digests are left on the server: they are most of a document's size. An inclusion projection:
        # the embedded development server answers it in half the time of excluding `stats`.
        documents = self._summaries.find({"experiment_id": experiment_id}, _ROWS_PROJECTION, max_time_ms=max_time_ms())
        return [row for document in documents
                for row in summary_rows(document) if row["runs"]]

    def digests(self, experiment_id: str, since: datetime | None, until: datetime | None,
                fields: Iterable[str]) -> list[dict]:
        """The documents of an experiment's days in [since, until) with only `fields` of their digests
        (dotted paths below `stats`), their day, model and `incomplete` count."""
        self._flush()
        query: dict = {"experiment_id": experiment_id}
        window = {**({"$gte": since} if since else {}), **({"$lt": until} if until else {})}
        if window:
            query["day"] = window
        projection = {"_id": 0, "day": 1, "model": 1, "runs": 1, "incomplete": 1,
                      **{f"stats.{field}": 1 for field in fields}}
        return list(self._summaries.find(query, projection, max_time_ms=max_time_ms()))

    def experiment_stats(self, experiment_ids: Iterable[str]) -> dict[str, dict]:
        """Run counts, drift rate and last run time of each experiment, from one aggregation."""
        ids = list(experiment_ids)
        stats = {experiment_id: _empty_stats() for experiment_id in ids}
        if not ids:
            return stats
        self._flush()
        pipeline = [
            {"$match": {"experiment_id": {"$in": ids}}},
            {"$group": {
                "_id": "$experiment_id",
                **{total: {"$sum": f"${total}"} for total in TOTALS},
                "last_run_at": {"$max": {"$cond": [{"$gt": ["$runs", 0]}, "$last_created_at", None]}},
            }},
        ]
        for row in self._summaries.aggregate(pipeline, **max_time_option()):
            completed_detected = row.pop("completed_detected")
            experiment_id = row.pop("_id")
            stats[experiment_id] = {**row, "drift_rate": drift_rate(completed_detected, row["completed"])}
        return stats

    # Rebuild ----------------------------------------------------------------------------

    def rebuild(self, experiment_id: str | None = None, on_progress=None) -> int:
        """Recompute the counters of one experiment (or of all) from the runs; returns the documents written."""
        self._flush()  # a change written after the rebuild would count its run twice
        with pymongo.timeout(REBUILD_TIMEOUT_SECONDS):
            if experiment_id is not None:
                return self._rebuild_experiment(experiment_id)
            experiment_ids = [experiment["_id"] for experiment in self._db.experiments.find({}, {"_id": 1})]
            written = 0
            for experiment_id in experiment_ids:
                written += self._rebuild_experiment(experiment_id)
                if on_progress is not None:
                    on_progress(experiment_id)
            # Counters left by a run write that raced its experiment's deletion.
            for orphan in set(self._summaries.distinct("experiment_id")) - set(experiment_ids):
                if self._db.experiments.find_one({"_id": orphan}, {"_id": 1}) is None:
                    self.remove_experiment(orphan)
            return written

    def _rebuild_experiment(self, experiment_id: str) -> int:
        # The digests are computed here while streaming the runs: a server-side pipeline would have to
        # walk free-form objects of any depth. See REBUILD_TIMEOUT_SECONDS for its duration.
        runs = self._db.drifts.find({"experiment_id": experiment_id}, _REBUILD_PROJECTION, batch_size=5000)
        documents = _rebuilt_documents(experiment_id, runs)
        # Replacing in place (rather than delete then insert) never shows readers an empty experiment.
        if documents:
            self._summaries.bulk_write(
                [ReplaceOne({"_id": document["_id"]}, document, upsert=True) for document in documents],
                ordered=False,
            )
        self._summaries.delete_many(
            {"experiment_id": experiment_id, "_id": {"$nin": [document["_id"] for document in documents]}}
        )
        return len(documents)


def drift_rate(detected: int, completed: int) -> float | None:
    return detected / completed if completed else None


def _empty_stats() -> dict:
    return {"runs": 0, "completed": 0, "running": 0, "failed": 0, "drift_detected": 0, "drift_rate": None,
            "last_run_at": None}


# Start-up ---------------------------------------------------------------------------------


def _builder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def mark_ready(db: Database) -> None:
    db.meta.update_one(
        {"_id": META_ID},
        {"$set": {"version": META_VERSION, "state": "ready", "finished_at": utc_now()}},
        upsert=True,
    )


def _claim_build(db: Database) -> bool:
    """Whether this process should build the counters; at most one process at a time does."""
    now = utc_now()
    claim = {"version": META_VERSION, "state": "building", "builder": _builder_name(),
             "started_at": now, "heartbeat_at": now}
    try:
        # The insert is the lock: of several workers starting together exactly one succeeds.
        db.meta.insert_one({"_id": META_ID, **claim})
        return True
    except DuplicateKeyError:
        pass
    # Take over from an older version's counters, or from a builder that died.
    taken = db.meta.update_one(
        {"_id": META_ID, "$or": [
            {"version": {"$ne": META_VERSION}},
            {"state": "building", "heartbeat_at": {"$lt": now - BUILD_STALE_AFTER}},
        ]},
        {"$set": claim},
    )
    return taken.modified_count == 1


def ensure_built(db: Database) -> None:
    """Build the counters once for a database that has runs from before they existed."""
    meta = db.meta.find_one({"_id": META_ID})
    if meta is not None and meta.get("version") == META_VERSION and meta.get("state") == "ready":
        return
    if not _claim_build(db):
        log.info("drift summaries are being built by %s", (meta or {}).get("builder", "another process"))
        return
    if db.drifts.find_one({}, {"_id": 1}) is None:  # a new database: nothing to count
        mark_ready(db)
        return
    log.warning("building drift summaries from the stored runs; this happens once")

    def beat(_experiment_id: str) -> None:
        db.meta.update_one({"_id": META_ID}, {"$set": {"heartbeat_at": utc_now()}})

    written = DriftSummaries(db).rebuild(on_progress=beat)
    mark_ready(db)
    log.warning("drift summaries built: %d counters", written)
