"""Compiled filters, run on a real MongoDB-wire server, select the documents they should.

The unit tests pin the exact translation; these prove that translation means
what we think it means to the server (date comparisons, array traversal,
$not with a regex, $size, ...).
"""

import uuid
from datetime import datetime, timezone

import pymongo
import pytest

from drift_backend.query_language import DRIFT_FIELDS, FIELD_OPERATORS, LOGICAL_OPERATORS, compile_filter
from factories import operators_used


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def mongo_db(mongo_uri):
    """A database of its own on the session's MongoDB server, for this module."""
    name = f"query-language-{uuid.uuid4().hex[:12]}"
    with pymongo.MongoClient(mongo_uri, tz_aware=True) as client:
        yield client[name]
        client.drop_database(name)


DRIFTS = [
    {
        "_id": "drift-1",
        "experiment_id": "exp-a",
        "created_at": utc(2026, 1, 10, 8),
        "updated_at": utc(2026, 1, 10, 9),
        "schema_version": "1.0",
        "job_status": "Completed",
        "model": "rf-v1",
        "tags": ["prod", "eu"],
        "drift_detected": True,
        "parameters": {"window": 100, "features": {"age": {"p_value": 0.01}}, "mode": "fast"},
        "concept_drift": {"drift": True, "parameters": {"threshold": 0.5}},
        "data_drift": {"drift": False, "parameters": {}},
    },
    {
        "_id": "drift-2",
        "experiment_id": "exp-a",
        "created_at": utc(2026, 2, 10, 8),
        "updated_at": utc(2026, 2, 11),
        "schema_version": "1.0",
        "job_status": "Running",
        "model": "rf-v2",
        "tags": ["dev"],
        "drift_detected": False,
        "parameters": {"window": 50, "features": {"age": {"p_value": 0.2}}, "mode": "Fast"},
        "concept_drift": {"drift": False, "parameters": {"threshold": 0.5}},
    },
    {
        "_id": "drift-3",
        "experiment_id": "exp-a",
        "created_at": utc(2026, 3, 10, 8),
        "updated_at": utc(2026, 3, 10, 8),
        "schema_version": "2.0",
        "job_status": "Failed",
        "model": "XGB",
        "tags": [],
        "drift_detected": False,
        "parameters": {"window": 200},
    },
    {
        "_id": "drift-4",
        "experiment_id": "exp-b",
        "created_at": utc(2026, 4, 10, 12),
        "updated_at": utc(2026, 4, 10, 12),
        "schema_version": "2.0",
        "job_status": "Completed",
        "model": "xgb-small",
        "tags": ["prod", "us", "eu"],
        "drift_detected": True,
        "parameters": {"window": 100, "labels": ["a", "b"]},
        "data_drift": {"drift": True, "parameters": {"threshold": 0.9}},
    },
]


@pytest.fixture(scope="module")
def drifts(mongo_db):
    collection = mongo_db["drifts_query_language"]
    collection.drop()
    collection.insert_many(DRIFTS)
    yield collection
    collection.drop()


CASES = [
    ({}, {"drift-1", "drift-2", "drift-3", "drift-4"}),
    # id -> _id
    ({"id": "drift-2"}, {"drift-2"}),
    ({"id": {"$in": ["drift-1", "drift-3", "nope"]}}, {"drift-1", "drift-3"}),
    # Equality, $eq, $ne
    ({"job_status": "Completed"}, {"drift-1", "drift-4"}),
    ({"model": {"$eq": "XGB"}}, {"drift-3"}),
    ({"job_status": {"$ne": "Completed"}}, {"drift-2", "drift-3"}),
    ({"drift_detected": True}, {"drift-1", "drift-4"}),
    ({"concept_drift.drift": False}, {"drift-2"}),
    ({"data_drift.drift": {"$ne": True}}, {"drift-1", "drift-2", "drift-3"}),
    # Dates: strings become UTC datetimes that compare with stored BSON dates.
    ({"created_at": {"$gte": "2026-02-10T08:00:00Z"}}, {"drift-2", "drift-3", "drift-4"}),
    ({"created_at": {"$gt": "2026-02-10T09:00:00+01:00"}}, {"drift-3", "drift-4"}),
    ({"created_at": {"$lt": "2026-02-10"}}, {"drift-1"}),
    ({"created_at": {"$lte": "2026-03-10T08:00:00"}}, {"drift-1", "drift-2", "drift-3"}),
    ({"updated_at": "2026-02-11"}, {"drift-2"}),
    ({"created_at": {"$gte": "2026-02-01", "$lt": "2026-04-01"}}, {"drift-2", "drift-3"}),
    ({"created_at": {"$in": ["2026-01-10T08:00:00Z", "2026-04-10T14:00:00+02:00"]}}, {"drift-1", "drift-4"}),
    # Strings compare lexicographically.
    ({"schema_version": {"$gt": "1.0"}}, {"drift-3", "drift-4"}),
    # Lists
    ({"job_status": {"$in": ["Running", "Failed"]}}, {"drift-2", "drift-3"}),
    ({"job_status": {"$nin": ["Running", "Failed"]}}, {"drift-1", "drift-4"}),
    ({"tags": "eu"}, {"drift-1", "drift-4"}),
    ({"tags": {"$in": ["dev", "us"]}}, {"drift-2", "drift-4"}),
    ({"tags": {"$nin": ["prod"]}}, {"drift-2", "drift-3"}),
    ({"tags": {"$all": ["prod", "eu"]}}, {"drift-1", "drift-4"}),
    ({"tags": {"$all": ["eu", "us"]}}, {"drift-4"}),
    ({"tags": {"$size": 0}}, {"drift-3"}),
    ({"tags": {"$size": 3}}, {"drift-4"}),
    ({"parameters.labels": {"$size": 2}}, {"drift-4"}),
    # $exists
    ({"data_drift": {"$exists": True}}, {"drift-1", "drift-4"}),
    ({"concept_drift": {"$exists": False}}, {"drift-3", "drift-4"}),
    ({"parameters.features.age.p_value": {"$exists": True}}, {"drift-1", "drift-2"}),
    # $regex, $options, $not
    ({"model": {"$regex": "^rf-"}}, {"drift-1", "drift-2"}),
    ({"model": {"$regex": "^xgb"}}, {"drift-4"}),
    ({"model": {"$regex": "^xgb", "$options": "i"}}, {"drift-3", "drift-4"}),
    ({"model": {"$not": {"$regex": "^xgb", "$options": "i"}}}, {"drift-1", "drift-2"}),
    ({"tags": {"$regex": "^d"}}, {"drift-2"}),
    ({"parameters.mode": {"$regex": "^fast$", "$options": "i"}}, {"drift-1", "drift-2"}),
    ({"parameters.window": {"$not": {"$gt": 50}}}, {"drift-2"}),
    # Deep paths into free-form parameters.
    ({"parameters.features.age.p_value": {"$lt": 0.05}}, {"drift-1"}),
    ({"parameters.window": {"$gte": 100, "$lte": 150}}, {"drift-1", "drift-4"}),
    ({"concept_drift.parameters.threshold": 0.5}, {"drift-1", "drift-2"}),
    ({"data_drift.parameters.threshold": {"$gt": 0.5}}, {"drift-4"}),
    ({"parameters.labels": ["a", "b"]}, {"drift-4"}),
    ({"parameters.labels.1": "b"}, {"drift-4"}),
    # Literal documents match whole sub-documents exactly.
    ({"data_drift": {"drift": False, "parameters": {}}}, {"drift-1"}),
    ({"parameters.features": {"age": {"p_value": 0.2}}}, {"drift-2"}),
    ({"parameters": {"window": 200}}, {"drift-3"}),
    # Logical operators
    ({"$and": [{"tags": "prod"}, {"model": {"$regex": "^rf"}}]}, {"drift-1"}),
    ({"$or": [{"job_status": "Failed"}, {"tags": "us"}]}, {"drift-3", "drift-4"}),
    ({"$nor": [{"drift_detected": True}, {"job_status": "Failed"}]}, {"drift-2"}),
    (
        {"$or": [{"$and": [{"drift_detected": True}, {"tags": {"$nin": ["us"]}}]}, {"tags": {"$size": 0}}]},
        {"drift-1", "drift-3"},
    ),
]


@pytest.mark.parametrize(("filter_doc", "expected_ids"), CASES)
def test_compiled_filter_selects_expected_documents(drifts, filter_doc, expected_ids):
    compiled = compile_filter(filter_doc, DRIFT_FIELDS)
    assert {doc["_id"] for doc in drifts.find(compiled, {"_id": 1})} == expected_ids


@pytest.mark.parametrize(("filter_doc", "expected_ids"), CASES)
def test_compiled_filter_combines_with_server_conditions(drifts, filter_doc, expected_ids):
    # The endpoints scope every search: {"$and": [compiled, server_filter]}.
    compiled = compile_filter(filter_doc, DRIFT_FIELDS)
    scoped = {"$and": [compiled, {"experiment_id": "exp-a"}]}
    in_experiment = {doc["_id"] for doc in DRIFTS if doc["experiment_id"] == "exp-a"}
    assert {doc["_id"] for doc in drifts.find(scoped, {"_id": 1})} == expected_ids & in_experiment


def test_cases_cover_every_allowed_operator():
    used = set().union(*(operators_used(filter_doc) for filter_doc, _ in CASES))
    assert used == FIELD_OPERATORS | LOGICAL_OPERATORS
