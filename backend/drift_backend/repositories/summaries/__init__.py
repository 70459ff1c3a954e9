"""Per-day counters and digests of drift runs (`drift_summaries`), kept exact as runs are written.

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

`stats` digests the numbers below a run's parameter objects (see `digests.numeric_leaves`), so that the
heatmap and long parameter series read a few hundred documents instead of every run. Like
first/last_created_at, a digest's min and max only widen: after a run is removed or changed they may be
loose until a rebuild; n, sum and det stay exact. The digests ride on the same one update per run write
as the counters.

Overviews read these few hundred documents per experiment instead of scanning the runs. A run write
updates one document with `$inc` (which commutes, so concurrent writers leave exact counts): a change of
status or results moves the run between two `counts` entries of the same document, so every run write
costs one counter update, two only when a PATCH changes the model. The counter update is a second
write after the run's own: a process that dies between the two leaves the counts off by that run until
`flask rebuild-summaries` recomputes them from the runs. A rebuild itself is exact only for runs not
written while it runs (it replaces the counts of one experiment at a time).

Modules, one job each: `keys` (where a run is counted, path encoding), `digests` (which numbers are
digested), `counters` (the pure updates and rebuilt documents), `writer` (the app's batching writer),
`rebuild` (recomputing from the runs), `startup` (the once-per-database build), `repository`
(`DriftSummaries`, the queries).
"""

from .counters import TOTALS, counter_updates, documents_of_rows, documents_of_runs, drift_rate, totals_of
from .digests import DIGEST_MAX_DEPTH, DIGEST_MAX_LEAVES, DIGEST_MAX_PATH, digest_location, numeric_leaves
from .keys import (
    ENTRY_FIELDS,
    decode_path,
    digest_key,
    encode_path,
    encode_segment,
    entry_key,
    entry_name,
    summary_id,
    summary_key,
    summary_rows,
    utc_day,
)
from .rebuild import REBUILD_TIMEOUT_SECONDS
from .repository import COLLECTION, WRITER_EXTENSION, DriftSummaries, create_indexes, group_runs
from .startup import BUILD_STALE_AFTER, META_ID, META_VERSION, claim_build, ensure_built, mark_ready
from .writer import SummaryWriter, write_counter_updates

__all__ = [
    "BUILD_STALE_AFTER", "COLLECTION", "DIGEST_MAX_DEPTH", "DIGEST_MAX_LEAVES", "DIGEST_MAX_PATH", "ENTRY_FIELDS",
    "META_ID", "META_VERSION", "REBUILD_TIMEOUT_SECONDS", "TOTALS", "WRITER_EXTENSION", "DriftSummaries",
    "SummaryWriter", "claim_build", "counter_updates", "create_indexes", "decode_path", "digest_key",
    "digest_location", "documents_of_rows", "documents_of_runs", "drift_rate", "encode_path", "encode_segment",
    "ensure_built", "entry_key", "entry_name", "group_runs", "mark_ready", "numeric_leaves", "summary_id",
    "summary_key", "summary_rows", "totals_of", "utc_day", "write_counter_updates",
]
