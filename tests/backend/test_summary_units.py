"""Unit tests of the summaries' pure parts (keys, digests, counter updates, run layout) and of the writer's merging.

No database except in the writer tests at the end, which write through a real collection.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from bson.decimal128 import Decimal128

from drift_backend.repositories.summaries import (
    DIGEST_MAX_DEPTH,
    DIGEST_MAX_LEAVES,
    DIGEST_MAX_PATH,
    SummaryWriter,
    counter_updates,
    decode_path,
    digest_key,
    digest_location,
    documents_of_runs,
    drift_rate,
    encode_path,
    entry_key,
    entry_name,
    numeric_leaves,
    summary_id,
    summary_key,
    summary_rows,
    totals_of,
    utc_day,
    write_counter_updates,
)
from drift_backend.run_document import (
    feature_flagged,
    feature_objects,
    is_feature_statistic,
    outcome,
    with_derived_fields,
)

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def run(**fields) -> dict:
    return {"experiment_id": "e1", "created_at": T0, "model": "m", "job_status": "Running",
            "drift_detected": False, **fields}


# Keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("segments", [
    ["age", "p_value"],
    ["a.b", "c$d", "e/f", "100%"],
    ["%2E", "x%"],           # already looks escaped: must survive as written
    ["ünï", "日本", " spaced "],
    ["features", "x", "y", "z"],
])
def test_a_digest_path_round_trips_and_is_a_safe_field_name(segments):
    name = encode_path(segments)

    assert decode_path(name) == segments
    assert "." not in name and "$" not in name
    assert name.count("/") == len(segments) - 1


def test_escaping_is_percent_hex_of_the_reserved_characters():
    assert encode_path(["a.b$c/d%e"]) == "a%2Eb%24c%2Fd%25e"


@pytest.mark.parametrize("key", [
    {"job_status": "Completed", "concept": True, "data": None, "drift_detected": True},
    {"job_status": None, "concept": None, "data": None, "drift_detected": None},
    {"job_status": "Failed", "concept": False, "data": False, "drift_detected": False},
])
def test_an_entry_name_round_trips(key):
    assert entry_key(entry_name(key)) == key


def test_entry_names_read_like_the_stored_ones():
    key = {"job_status": "Completed", "concept": True, "data": None, "drift_detected": True}
    assert entry_name(key) == "Completed|true|null|true"


@pytest.mark.parametrize("moment, day", [
    (datetime(2026, 3, 2, 23, 59), datetime(2026, 3, 2, tzinfo=UTC)),  # naive means UTC
    (datetime(2026, 3, 3, 1, 0, tzinfo=timezone(timedelta(hours=2))), datetime(2026, 3, 2, tzinfo=UTC)),
    (datetime(2026, 3, 2, 23, 0, tzinfo=timezone(timedelta(hours=-2))), datetime(2026, 3, 3, tzinfo=UTC)),
])
def test_utc_day_is_midnight_utc_of_the_moment(moment, day):
    assert utc_day(moment) == day


def test_summary_key_reads_outcomes_and_leaves_missing_results_null():
    key = summary_key(run(job_status="Completed", drift_detected=True, concept_drift={"drift": True}))

    assert key == {"experiment_id": "e1", "day": datetime(2026, 3, 2, tzinfo=UTC), "model": "m",
                   "job_status": "Completed", "concept": True, "data": None, "drift_detected": True}
    assert summary_id(key) == '["e1", "2026-03-02", "m"]'


def test_digest_keys_name_booleans_and_null():
    assert [digest_key(value) for value in (True, False, None, "yes")] == ["true", "false", "null", "null"]


def test_summary_rows_unpack_the_counts_of_a_document():
    document = {"day": T0, "model": "m", "counts": {"Running|null|true|false": {"runs": 2, "first_created_at": T0,
                                                                               "last_created_at": T0}}}
    assert summary_rows(document) == [{"day": T0, "model": "m", "job_status": "Running", "concept": None,
                                       "data": True, "drift_detected": False, "runs": 2,
                                       "first_created_at": T0, "last_created_at": T0}]


# Digests ---------------------------------------------------------------------------------------


def test_numeric_leaves_of_every_root_skip_booleans_and_text():
    leaves, complete = numeric_leaves(run(
        parameters={"lr": 0.1, "name": "x", "on": True, "nested": {"k": 3}},
        data_drift={"drift": True, "parameters": {"share": 0.5}},
    ))

    assert complete
    assert sorted(leaves) == [("data_drift.parameters", "share", 0.5, False),
                              ("parameters", "lr", 0.1, False), ("parameters", "nested/k", 3.0, False)]


def test_statistics_of_flagged_features_are_marked_in_both_layouts():
    leaves, _ = numeric_leaves(run(data_drift={"drift": True, "parameters": {
        "features": {"age": {"drifted": True, "p_value": 0.01}, "income": {"drifted": False, "p_value": 0.4}},
        "height": {"drift": True, "p_value": 0.02},      # the older layout
    }}))
    flagged = {name: flag for _root, name, _value, flag in leaves}

    assert flagged == {"features/age/p_value": True, "features/income/p_value": False, "height/p_value": True}


def test_objects_of_the_free_parameters_are_never_features():
    leaves, _ = numeric_leaves(run(parameters={"age": {"drifted": True, "p_value": 0.01}}))
    assert leaves == [("parameters", "age/p_value", 0.01, False)]


@pytest.mark.parametrize("parameters", [
    {"d": Decimal128("1.5")},
    {"nan": math.nan},
    {"inf": math.inf},
    {"": 1},
    {"x" * (DIGEST_MAX_PATH + 1): 1},
    {f"k{index}": index for index in range(DIGEST_MAX_LEAVES + 1)},
])
def test_numbers_a_digest_cannot_hold_make_the_run_incomplete(parameters):
    _leaves, complete = numeric_leaves(run(parameters=parameters))
    assert not complete


def test_numbers_deeper_than_the_limit_are_left_out_without_making_the_run_incomplete():
    node: dict = {"value": 1}
    for level in range(DIGEST_MAX_DEPTH):
        node = {f"l{level}": node}
    leaves, complete = numeric_leaves(run(parameters=node))

    assert (leaves, complete) == ([], True)


def test_digest_location_names_the_root_and_encoded_path():
    assert digest_location("data_drift.parameters.features.age.p_value") == (
        "data_drift.parameters", "features/age/p_value")
    assert digest_location("parameters.lr") == ("parameters", "lr")
    assert digest_location("tags.x") is None
    assert digest_location("parameters." + ".".join(["k"] * (DIGEST_MAX_DEPTH + 1))) is None


# Counter updates -------------------------------------------------------------------------------


def test_one_new_run_increments_its_entry_totals_and_digests():
    [(doc_id, update)] = counter_updates([(run(parameters={"lr": 0.5}), 1)]).items()

    assert doc_id == '["e1", "2026-03-02", "m"]'
    assert update["$setOnInsert"] == {"experiment_id": "e1", "day": datetime(2026, 3, 2, tzinfo=UTC), "model": "m"}
    assert update["$inc"] == {"counts.Running|null|null|false.runs": 1, "runs": 1, "running": 1,
                              "stats.false.parameters.lr.n": 1, "stats.false.parameters.lr.sum": 0.5}
    assert update["$min"] == {"first_created_at": T0, "counts.Running|null|null|false.first_created_at": T0,
                              "stats.false.parameters.lr.min": 0.5}
    assert update["$max"] == {"last_created_at": T0, "counts.Running|null|null|false.last_created_at": T0,
                              "stats.false.parameters.lr.max": 0.5}


def test_a_change_that_cancels_out_writes_nothing():
    same = run(parameters={"lr": 0.5})
    assert counter_updates([(same, -1), (same, 1)]) == {}


def test_finishing_a_run_moves_it_between_entries_of_one_document():
    before = run()
    after = run(job_status="Completed", drift_detected=True, data_drift={"drift": True, "parameters": {}})

    [update] = counter_updates([(before, -1), (after, 1)]).values()

    assert update["$inc"] == {"counts.Running|null|null|false.runs": -1, "counts.Completed|null|true|true.runs": 1,
                              "running": -1, "completed": 1, "drift_detected": 1, "completed_detected": 1}
    # Bounds only widen, and only for the entry a run enters.
    assert "counts.Running|null|null|false.first_created_at" not in update["$min"]


def test_a_removed_run_only_decrements():
    [update] = counter_updates([(run(parameters={"lr": 0.0}, concept_drift={"drift": False,
                                     "parameters": {"features": {"a": {"drifted": True, "d": 2}}}}), -1)]).values()

    assert "$min" not in update and "$max" not in update
    assert update["$inc"]["stats.false.concept_drift.parameters.features/a/d.det"] == -1
    # A sum that adds 0 is still written, with its count.
    assert update["$inc"]["stats.false.parameters.lr.sum"] == 0
    assert update["$inc"]["stats.false.parameters.lr.n"] == -1


def test_runs_of_other_days_or_models_update_other_documents():
    updates = counter_updates([(run(), 1), (run(model="other"), 1), (run(created_at=T0 + timedelta(days=1)), 1)])
    assert len(updates) == 3


def test_an_incomplete_run_is_counted_as_such():
    [update] = counter_updates([(run(parameters={"d": Decimal128("1")}), 1)]).values()
    assert update["$inc"]["incomplete"] == 1


@pytest.mark.parametrize("status, detected, expected", [
    ("Running", False, {"runs": 1, "running": 1, "drift_detected": 0, "completed_detected": 0}),
    ("Completed", True, {"runs": 1, "completed": 1, "drift_detected": 1, "completed_detected": 1}),
    ("Failed", True, {"runs": 1, "failed": 1, "drift_detected": 1, "completed_detected": 0}),
    (None, None, {"runs": 1, "drift_detected": 0, "completed_detected": 0}),
])
def test_totals_of_a_run(status, detected, expected):
    assert totals_of({"job_status": status, "drift_detected": detected}) == expected


def test_drift_rate_is_none_without_completed_runs():
    assert drift_rate(0, 0) is None
    assert drift_rate(1, 4) == 0.25


def _apply(documents: dict, doc_id: str, update: dict) -> None:
    """What MongoDB does with an upserted $setOnInsert/$inc/$min/$max update, on nested dicts."""
    document = documents.setdefault(doc_id, {"_id": doc_id, **update["$setOnInsert"]})
    for operator, combine in (("$inc", lambda old, new: (old or 0) + new),
                              ("$min", lambda old, new: new if old is None else min(old, new)),
                              ("$max", lambda old, new: new if old is None else max(old, new))):
        for path, value in update.get(operator, {}).items():
            node = document
            *parents, last = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = combine(node.get(last), value)


def test_a_rebuild_holds_what_the_run_writes_accumulate():
    runs = [run(created_at=T0 + timedelta(hours=hours), model=model, job_status=status, drift_detected=detected,
                parameters={"lr": hours / 10},
                data_drift={"drift": detected, "parameters": {"features": {"age": {"drifted": detected,
                                                                                   "p_value": hours / 100}}}})
            for hours, model, status, detected in [(0, "a", "Completed", True), (1, "a", "Failed", False),
                                                   (30, "b", "Completed", False), (2, "a", "Completed", True)]]
    written: dict = {}
    for change in runs:
        for doc_id, update in counter_updates([(change, 1)]).items():
            _apply(written, doc_id, update)

    rebuilt = {document["_id"]: document for document in documents_of_runs("e1", [
        {key: value for key, value in change.items() if key != "experiment_id"} for change in runs])}

    assert rebuilt.keys() == written.keys()
    for doc_id, document in rebuilt.items():
        incremental = written[doc_id]
        for field in ("runs", "running", "completed", "failed", "drift_detected", "completed_detected",
                      "first_created_at", "last_created_at", "counts"):
            assert document[field] == incremental.get(field, 0), field
        # Added in the same order on both sides, so even the float sums are equal.
        assert document["stats"] == incremental["stats"]


# Run layout ------------------------------------------------------------------------------------


def test_drift_detected_follows_the_results_when_there_are_any():
    assert with_derived_fields({"drift_detected": False, "data_drift": {"drift": True}})["drift_detected"] is True
    assert with_derived_fields({"drift_detected": True, "concept_drift": {"drift": False},
                                "data_drift": None})["drift_detected"] is False
    assert with_derived_fields({"drift_detected": True})["drift_detected"] is True


def test_outcome_of_a_missing_result_is_none():
    assert outcome({"data_drift": {"drift": False}}, "data_drift") is False
    assert outcome({}, "concept_drift") is None


def test_feature_objects_of_both_layouts():
    parameters = {"features": {"a": {"p_value": 1}, "skip": 3}, "b": {"p_value": 2}, "threshold": 0.05}
    assert feature_objects(parameters) == [("a", {"p_value": 1}), ("b", {"p_value": 2})]
    assert is_feature_statistic(["features", "a", "p_value"]) and is_feature_statistic(["b", "p_value"])
    assert not is_feature_statistic(["features", "a"]) and not is_feature_statistic(["features", "a", "x", "y"])
    assert feature_flagged({"drift": True}) and not feature_flagged({"drifted": "yes"})


# The writer, through a real collection ---------------------------------------------------------


class RecordingWrite:
    """A writer's `write` that records each call's number of changes and then really writes."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, collection, changes):
        self.calls.append(len(changes))
        write_counter_updates(collection, changes)


def test_without_a_delay_each_submit_is_written_before_it_returns(db):
    write = RecordingWrite()
    writer = SummaryWriter(0, write=write)

    writer.submit(db.drift_summaries, [(run(), 1)])

    assert write.calls == [1]
    assert db.drift_summaries.find_one()["runs"] == 1


def test_with_a_delay_changes_wait_and_merge_into_one_write(db):
    write = RecordingWrite()
    writer = SummaryWriter(60, write=write)

    for index in range(5):
        writer.submit(db.drift_summaries, [(run(model=f"m{index % 2}"), 1)])
    assert write.calls == [] and db.drift_summaries.count_documents({}) == 0

    writer.flush()

    assert write.calls == [5]
    assert sum(document["runs"] for document in db.drift_summaries.find()) == 5


def test_closing_writes_what_is_pending_and_stops_the_timer(db):
    write = RecordingWrite()
    writer = SummaryWriter(60, write=write)
    writer.submit(db.drift_summaries, [(run(), 1)])

    writer.close()

    assert write.calls == [1]
    assert writer._timer is None  # noqa: SLF001 — no thread left to write after the client is gone
