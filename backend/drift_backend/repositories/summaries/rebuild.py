"""Recomputing an experiment's summary documents from its stored runs (`flask rebuild-summaries`, first start)."""

from __future__ import annotations

from pymongo import ReplaceOne
from pymongo.collection import Collection

from .counters import documents_of_runs

# A rebuild is maintenance, not a request: reading one experiment's runs may take much longer than the
# per-request socket timeout (30 to 60 s per 100,000 runs on the embedded development server).
REBUILD_TIMEOUT_SECONDS = 3600
# What a rebuild reads of each run: the key fields and the digested parameter objects.
REBUILD_PROJECTION = {"_id": 0, "created_at": 1, "model": 1, "job_status": 1, "drift_detected": 1,
                      "concept_drift": 1, "data_drift": 1, "parameters": 1}


def rebuild_experiment(drifts: Collection, summaries: Collection, experiment_id: str) -> int:
    """Replace an experiment's summary documents by those of its runs; returns the documents written."""
    # The digests are computed here while streaming the runs: a server-side pipeline would have to
    # walk free-form objects of any depth. See REBUILD_TIMEOUT_SECONDS for its duration.
    runs = drifts.find({"experiment_id": experiment_id}, REBUILD_PROJECTION, batch_size=5000)
    documents = documents_of_runs(experiment_id, runs)
    # Replacing in place (rather than delete then insert) never shows readers an empty experiment.
    if documents:
        summaries.bulk_write(
            [ReplaceOne({"_id": document["_id"]}, document, upsert=True) for document in documents],
            ordered=False,
        )
    summaries.delete_many(
        {"experiment_id": experiment_id, "_id": {"$nin": [document["_id"] for document in documents]}}
    )
    return len(documents)
