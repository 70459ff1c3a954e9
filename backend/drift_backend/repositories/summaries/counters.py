"""What runs add to summary documents: one update per document for run changes, whole documents for a rebuild.

Pure functions of runs; writing them is `writer.py`'s and the repository's job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ...run_document import STATUS_COUNTS
from .digests import numeric_leaves
from .keys import digest_key, entry_name, summary_id, summary_key

# Per-document totals, kept for lists of experiments (`with_stats`).
TOTALS = ("runs", "running", "completed", "failed", "drift_detected", "completed_detected")


def totals_of(key: dict) -> dict[str, int]:
    """What one run under `key` adds to its document's totals."""
    detected = key["drift_detected"] is True
    totals = {"runs": 1, "drift_detected": int(detected), "completed_detected": 0}
    status_total = STATUS_COUNTS.get(key["job_status"])
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
        for total, count in totals_of(key).items():
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


def documents_of_rows(experiment_id: str, rows: list[dict]) -> list[dict]:
    """Summary documents holding exactly the counts of `rows` (shaped like `summary_rows` gives them)."""
    documents: dict[str, dict] = {}
    for row in rows:
        key = {**row, "experiment_id": experiment_id}
        document = documents.setdefault(summary_id(key), {
            "_id": summary_id(key), "experiment_id": experiment_id, "day": key["day"], "model": key["model"],
            **dict.fromkeys(TOTALS, 0), "first_created_at": row["first_created_at"],
            "last_created_at": row["last_created_at"], "counts": {},
        })
        for total, count in totals_of(key).items():
            document[total] += count * row["runs"]
        document["first_created_at"] = min(document["first_created_at"], row["first_created_at"])
        document["last_created_at"] = max(document["last_created_at"], row["last_created_at"])
        document["counts"][entry_name(key)] = {"runs": row["runs"], "first_created_at": row["first_created_at"],
                                               "last_created_at": row["last_created_at"]}
    return list(documents.values())


def documents_of_runs(experiment_id: str, runs: Iterable[dict]) -> list[dict]:
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
    documents = documents_of_rows(experiment_id, [{key: value for key, value in row.items() if key != "experiment_id"}
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


def drift_rate(detected: int, completed: int) -> float | None:
    return detected / completed if completed else None


def empty_stats() -> dict:
    """The run statistics of an experiment without runs."""
    return {"runs": 0, "completed": 0, "running": 0, "failed": 0, "drift_detected": 0, "drift_rate": None,
            "last_run_at": None}
