"""Tests of the search filter language: what it translates, and what it refuses."""

import copy
from datetime import datetime, timedelta, timezone

import pytest

from drift_backend.query_language import (
    DRIFT_FIELDS,
    EXPERIMENT_FIELDS,
    FIELD_OPERATORS,
    LOGICAL_OPERATORS,
    MAX_ARRAY_LENGTH,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_REGEX_LENGTH,
    USER_FIELDS,
    FieldKind,
    QueryLanguageError,
    compile_filter,
)
from factories import operators_used

UTC = timezone.utc


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def nested_or(levels):
    """A filter whose $or nesting reaches depth 2 * levels + 1 (each $or adds a list and a dict)."""
    doc = {"model": "m"}
    for _ in range(levels):
        doc = {"$or": [doc]}
    return doc


# --- What is translated ------------------------------------------------------

TRANSLATIONS = [
    # Implicit equality and $eq/$ne on every kind.
    ({"name": "exp"}, EXPERIMENT_FIELDS, {"name": "exp"}),
    ({"name": {"$eq": "exp"}}, EXPERIMENT_FIELDS, {"name": {"$eq": "exp"}}),
    ({"name": {"$ne": "exp"}}, EXPERIMENT_FIELDS, {"name": {"$ne": "exp"}}),
    ({"public": True}, EXPERIMENT_FIELDS, {"public": True}),
    ({"public": {"$ne": False}}, EXPERIMENT_FIELDS, {"public": {"$ne": False}}),
    ({"permissions.entity": "alice"}, EXPERIMENT_FIELDS, {"permissions.entity": "alice"}),
    ({"permissions.level": {"$in": ["Edit", "Manage"]}}, EXPERIMENT_FIELDS,
     {"permissions.level": {"$in": ["Edit", "Manage"]}}),
    ({"tags": "prod"}, DRIFT_FIELDS, {"tags": "prod"}),
    ({"drift_detected": {"$eq": True}}, DRIFT_FIELDS, {"drift_detected": {"$eq": True}}),
    ({"email": "a@example.org", "issuer": "https://idp"}, USER_FIELDS,
     {"email": "a@example.org", "issuer": "https://idp"}),
    # id is stored as _id.
    ({"id": "0b6e5c1e-8f43-4c1b-9d8e-2f0f3c1a7e11"}, DRIFT_FIELDS,
     {"_id": "0b6e5c1e-8f43-4c1b-9d8e-2f0f3c1a7e11"}),
    ({"id": {"$in": ["a", "b"]}}, USER_FIELDS, {"_id": {"$in": ["a", "b"]}}),
    ({"$or": [{"id": "a"}, {"id": {"$gt": "m"}}]}, EXPERIMENT_FIELDS,
     {"$or": [{"_id": "a"}, {"_id": {"$gt": "m"}}]}),
    # Range operators.
    ({"model": {"$gt": "a"}}, DRIFT_FIELDS, {"model": {"$gt": "a"}}),
    ({"model": {"$gte": "a", "$lt": "n"}}, DRIFT_FIELDS, {"model": {"$gte": "a", "$lt": "n"}}),
    ({"parameters.window": {"$lte": 100}}, DRIFT_FIELDS, {"parameters.window": {"$lte": 100}}),
    ({"parameters.features.age.p_value": {"$lt": 0.05}}, DRIFT_FIELDS,
     {"parameters.features.age.p_value": {"$lt": 0.05}}),
    ({"data_drift.parameters.threshold": {"$gte": 0.5}}, DRIFT_FIELDS,
     {"data_drift.parameters.threshold": {"$gte": 0.5}}),
    # List operators.
    ({"job_status": {"$in": ["Running", "Completed"]}}, DRIFT_FIELDS,
     {"job_status": {"$in": ["Running", "Completed"]}}),
    ({"job_status": {"$nin": ["Failed"]}}, DRIFT_FIELDS, {"job_status": {"$nin": ["Failed"]}}),
    ({"tags": {"$all": ["prod", "eu"]}}, DRIFT_FIELDS, {"tags": {"$all": ["prod", "eu"]}}),
    ({"tags": {"$in": []}}, DRIFT_FIELDS, {"tags": {"$in": []}}),
    ({"parameters.mode": {"$in": ["fast", 3, None, True]}}, DRIFT_FIELDS,
     {"parameters.mode": {"$in": ["fast", 3, None, True]}}),
    # $exists and $size.
    ({"data_drift": {"$exists": True}}, DRIFT_FIELDS, {"data_drift": {"$exists": True}}),
    ({"concept_drift.parameters.threshold": {"$exists": False}}, DRIFT_FIELDS,
     {"concept_drift.parameters.threshold": {"$exists": False}}),
    ({"tags": {"$size": 0}}, DRIFT_FIELDS, {"tags": {"$size": 0}}),
    ({"parameters.labels": {"$size": 2}}, DRIFT_FIELDS, {"parameters.labels": {"$size": 2}}),
    # $regex with and without $options.
    ({"name": {"$regex": "^exp-[0-9]+$"}}, EXPERIMENT_FIELDS, {"name": {"$regex": "^exp-[0-9]+$"}}),
    ({"description": {"$regex": "drift", "$options": "imsx"}}, EXPERIMENT_FIELDS,
     {"description": {"$regex": "drift", "$options": "imsx"}}),
    ({"tags": {"$regex": "^pr"}}, DRIFT_FIELDS, {"tags": {"$regex": "^pr"}}),
    ({"parameters.mode": {"$regex": "FAST", "$options": ""}}, DRIFT_FIELDS,
     {"parameters.mode": {"$regex": "FAST", "$options": ""}}),
    # $not with an operator object or a regex.
    ({"model": {"$not": {"$regex": "^xgb", "$options": "i"}}}, DRIFT_FIELDS,
     {"model": {"$not": {"$regex": "^xgb", "$options": "i"}}}),
    ({"parameters.window": {"$not": {"$gt": 100}}}, DRIFT_FIELDS,
     {"parameters.window": {"$not": {"$gt": 100}}}),
    # Logical operators.
    ({"$and": [{"model": "a"}, {"tags": "b"}]}, DRIFT_FIELDS, {"$and": [{"model": "a"}, {"tags": "b"}]}),
    ({"$or": [{"model": "a"}, {}]}, DRIFT_FIELDS, {"$or": [{"model": "a"}, {}]}),
    ({"$nor": [{"drift_detected": True}]}, DRIFT_FIELDS, {"$nor": [{"drift_detected": True}]}),
    ({"$and": [{"$or": [{"model": "a"}, {"$nor": [{"tags": "x"}]}]}]}, DRIFT_FIELDS,
     {"$and": [{"$or": [{"model": "a"}, {"$nor": [{"tags": "x"}]}]}]}),
    # Literal documents and scalars on document fields.
    ({"parameters": {"window": 100, "features": ["age", {"name": "income"}]}}, DRIFT_FIELDS,
     {"parameters": {"window": 100, "features": ["age", {"name": "income"}]}}),
    ({"concept_drift": {"drift": True, "parameters": {}}}, DRIFT_FIELDS,
     {"concept_drift": {"drift": True, "parameters": {}}}),
    ({"parameters.mode": {}}, DRIFT_FIELDS, {"parameters.mode": {}}),
    ({"parameters.mode": None}, DRIFT_FIELDS, {"parameters.mode": None}),
    ({"parameters.labels": ["a", "b"]}, DRIFT_FIELDS, {"parameters.labels": ["a", "b"]}),
    ({"parameters.labels": {"$eq": ["a", "b"]}}, DRIFT_FIELDS, {"parameters.labels": {"$eq": ["a", "b"]}}),
    ({"parameters.x": {"$all": [{"k": 1}, 2]}}, DRIFT_FIELDS, {"parameters.x": {"$all": [{"k": 1}, 2]}}),
    ({"concept_drift.drift": False}, DRIFT_FIELDS, {"concept_drift.drift": False}),
    # Deep sub-paths below a document field; numeric segments are array indexes.
    ({"parameters.a.b.c.d.e.f.g": 1}, DRIFT_FIELDS, {"parameters.a.b.c.d.e.f.g": 1}),
    ({"parameters.features.0.name": "age"}, DRIFT_FIELDS, {"parameters.features.0.name": "age"}),
    # Strings that look like operators or field references are plain strings.
    ({"name": "$where"}, EXPERIMENT_FIELDS, {"name": "$where"}),
    # The empty filter matches everything.
    ({}, EXPERIMENT_FIELDS, {}),
]


@pytest.mark.parametrize(("filter_doc", "fields", "expected"), TRANSLATIONS)
def test_translates(filter_doc, fields, expected):
    assert compile_filter(filter_doc, fields) == expected


def test_every_allowed_operator_is_covered_by_the_translation_table():
    used = set().union(*(operators_used(filter_doc) for filter_doc, _, _ in TRANSLATIONS))
    assert used == FIELD_OPERATORS | LOGICAL_OPERATORS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22", utc(2026, 11, 22)),
        ("2026-11-22T10:00:00Z", utc(2026, 11, 22, 10)),
        ("2026-11-22T10:00:00+01:00", utc(2026, 11, 22, 9)),
        ("2026-11-22T00:30:00-02:30", utc(2026, 11, 22, 3)),
        ("2026-11-22T10:00:00", utc(2026, 11, 22, 10)),  # naive: taken as UTC
        ("2026-11-22T10:00:00.250Z", utc(2026, 11, 22, 10, 0, 0, 250000)),
        ("2026-11-22T23:30:00-01:00", utc(2026, 11, 23, 0, 30)),  # crosses midnight
    ],
)
def test_dates_become_aware_utc_datetimes(text, expected):
    compiled = compile_filter({"created_at": {"$gte": text}}, DRIFT_FIELDS)
    value = compiled["created_at"]["$gte"]
    assert value == expected
    assert value.utcoffset() == timedelta(0)


def test_dates_are_converted_in_every_position():
    compiled = compile_filter(
        {
            "updated_at": "2026-01-01",
            "$or": [
                {"created_at": {"$in": ["2026-01-02", "2026-01-03T00:00:00Z"]}},
                {"created_at": {"$not": {"$lt": "2026-01-04"}, "$ne": "2026-01-05"}},
            ],
        },
        USER_FIELDS,
    )
    assert compiled == {
        "updated_at": utc(2026, 1, 1),
        "$or": [
            {"created_at": {"$in": [utc(2026, 1, 2), utc(2026, 1, 3)]}},
            {"created_at": {"$not": {"$lt": utc(2026, 1, 4)}, "$ne": utc(2026, 1, 5)}},
        ],
    }


def test_output_is_a_fresh_structure_and_input_is_untouched():
    filter_doc = {
        "parameters": {"features": [{"name": "age"}]},
        "tags": {"$in": ["a"]},
        "$or": [{"id": "x"}],
    }
    original = copy.deepcopy(filter_doc)
    compiled = compile_filter(filter_doc, DRIFT_FIELDS)
    assert filter_doc == original

    compiled["parameters"]["features"][0]["name"] = "changed"
    compiled["tags"]["$in"].append("b")
    compiled["$or"].append({})
    assert filter_doc == original
    # The caller can embed the result next to its own conditions.
    combined = {"$and": [compiled, {"experiment_id": "e1"}]}
    assert combined["$and"][0] is compiled


def test_field_tables_are_read_only():
    with pytest.raises(TypeError):
        DRIFT_FIELDS["experiment_id"] = FieldKind.ID  # type: ignore[index]


def test_error_carries_message_and_path():
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({"$or": [{"model": "a"}, {"parameters.x": {"$gt": True}}]}, DRIFT_FIELDS)
    error = excinfo.value
    assert isinstance(error, ValueError)
    assert error.path == "$or[1].parameters.x.$gt"
    assert "expects a number or a string" in error.message
    assert str(error) == f"{error.path}: {error.message}"


# --- What is refused ----------------------------------------------------------

FORBIDDEN_OPERATORS = [
    "$where", "$function", "$expr", "$accumulator", "$lookup", "$elemMatch", "$text",
    "$jsonSchema", "$mod", "$type", "$comment", "$geoWithin", "$near", "$bitsAllSet",
    "$sampleRate", "$x", "$",
]


@pytest.mark.parametrize("operator", FORBIDDEN_OPERATORS)
def test_forbidden_operator_at_top_level(operator):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({operator: "function() { return true; }"}, DRIFT_FIELDS)
    assert f"operator '{operator}' is not allowed" in excinfo.value.message
    assert excinfo.value.path == operator


@pytest.mark.parametrize("operator", FORBIDDEN_OPERATORS)
def test_forbidden_operator_inside_a_field(operator):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({"parameters.x": {operator: {"a": 1}}}, DRIFT_FIELDS)
    assert f"operator '{operator}' is not allowed" in excinfo.value.message
    assert excinfo.value.path == f"parameters.x.{operator}"


@pytest.mark.parametrize("operator", ["$where", "$expr", "$elemMatch"])
def test_forbidden_operator_nested_in_logical_operators_and_not(operator):
    for filter_doc in (
        {"$and": [{"model": "a"}, {"$or": [{operator: "x"}]}]},
        {"tags": {"$not": {operator: "x"}}},
    ):
        with pytest.raises(QueryLanguageError, match=rf"operator '\{operator}' is not allowed"):
            compile_filter(filter_doc, DRIFT_FIELDS)


@pytest.mark.parametrize("operator", sorted(FIELD_OPERATORS))
def test_field_operator_at_top_level_is_refused(operator):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({operator: "x"}, DRIFT_FIELDS)
    assert f"operator '{operator}' must be applied to a field" in excinfo.value.message


@pytest.mark.parametrize("operator", sorted(LOGICAL_OPERATORS))
def test_logical_operator_inside_a_field_is_refused(operator):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({"model": {operator: [{"$eq": "a"}]}}, DRIFT_FIELDS)
    assert f"'{operator}' combines whole filters" in excinfo.value.message
    assert "model" in excinfo.value.message


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("experiment_id", DRIFT_FIELDS),
        ("_id", DRIFT_FIELDS),
        ("status", DRIFT_FIELDS),
        ("name", DRIFT_FIELDS),
        ("permissions", EXPERIMENT_FIELDS),
        ("permissions.user", EXPERIMENT_FIELDS),
        ("owner", EXPERIMENT_FIELDS),
        ("tags", EXPERIMENT_FIELDS),
        ("parameters.x", EXPERIMENT_FIELDS),
        ("password", USER_FIELDS),
        ("name", USER_FIELDS),
    ],
)
def test_unknown_field(field, fields):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({field: "x"}, fields)
    message = excinfo.value.message
    assert f"unknown field '{field}'" in message
    assert "allowed fields: " + ", ".join(sorted(fields)) in message


def test_unknown_drift_field_mentions_document_fields():
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({"experiment_id": "e1"}, DRIFT_FIELDS)
    assert "any sub-field may be queried below concept_drift, concept_drift.parameters" in excinfo.value.message


@pytest.mark.parametrize(
    ("field", "owner", "fields"),
    [
        ("name.first", "name", EXPERIMENT_FIELDS),
        ("public.x", "public", EXPERIMENT_FIELDS),
        ("created_at.year", "created_at", EXPERIMENT_FIELDS),
        ("permissions.entity.x", "permissions.entity", EXPERIMENT_FIELDS),
        ("id.x", "id", DRIFT_FIELDS),
        ("tags.0", "tags", DRIFT_FIELDS),
        ("model.name", "model", DRIFT_FIELDS),
        ("concept_drift.drift.x", "concept_drift.drift", DRIFT_FIELDS),
        ("email.domain", "email", USER_FIELDS),
    ],
)
def test_sub_path_on_non_document_field(field, owner, fields):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({field: "x"}, fields)
    assert f"field '{owner}' has no sub-fields, so '{field}' cannot be queried" in excinfo.value.message


@pytest.mark.parametrize("field", ["", "parameters.", "parameters..x", ".parameters", "parameters.$where", "parameters.$"])
def test_malformed_field_path(field):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({field: 1}, DRIFT_FIELDS)
    assert f"invalid field path '{field}'" in excinfo.value.message


@pytest.mark.parametrize(
    ("filter_doc", "fields", "message"),
    [
        # Booleans are not numbers and numbers are not booleans.
        ({"public": 1}, EXPERIMENT_FIELDS, "field 'public' expects a boolean, got number 1"),
        ({"public": "true"}, EXPERIMENT_FIELDS, "field 'public' expects a boolean, got string 'true'"),
        ({"public": None}, EXPERIMENT_FIELDS, "field 'public' expects a boolean, got null"),
        ({"drift_detected": {"$in": [True, 0]}}, DRIFT_FIELDS, "field 'drift_detected' expects a boolean, got number 0"),
        ({"tags": {"$size": True}}, DRIFT_FIELDS, "'$size' expects a non-negative integer, got boolean True"),
        ({"tags": {"$size": -1}}, DRIFT_FIELDS, "'$size' expects a non-negative integer, got number -1"),
        ({"tags": {"$size": 1.5}}, DRIFT_FIELDS, "'$size' expects a non-negative integer, got number 1.5"),
        ({"parameters.x": {"$gt": True}}, DRIFT_FIELDS, "expects a number or a string, got boolean True"),
        ({"parameters.x": {"$lt": None}}, DRIFT_FIELDS, "expects a number or a string, got null"),
        ({"parameters.x": {"$lte": [1]}}, DRIFT_FIELDS, "expects a number or a string, got array"),
        ({"data_drift": {"$exists": 1}}, DRIFT_FIELDS, "'$exists' expects true or false, got number 1"),
        ({"data_drift": {"$exists": "yes"}}, DRIFT_FIELDS, "'$exists' expects true or false, got string 'yes'"),
        # Strings and ids.
        ({"name": 5}, EXPERIMENT_FIELDS, "field 'name' expects a string, got number 5"),
        ({"name": ["a"]}, EXPERIMENT_FIELDS, "field 'name' expects a string, got array"),
        ({"name": {}}, EXPERIMENT_FIELDS, "field 'name' expects a string, got object"),
        ({"name": {"first": "a"}}, EXPERIMENT_FIELDS, "field 'name' expects a string, got object"),
        ({"id": 42}, DRIFT_FIELDS, "field 'id' expects a string, got number 42"),
        ({"email": {"$gt": 1}}, USER_FIELDS, "field 'email' expects a string, got number 1"),
        ({"tags": ["a", "b"]}, DRIFT_FIELDS, "field 'tags' expects a string, got array"),
        ({"tags": {"$all": ["a", 1]}}, DRIFT_FIELDS, "field 'tags' expects a string, got number 1"),
        ({"tags": {"$in": "prod"}}, DRIFT_FIELDS, "'$in' expects an array, got string"),
        ({"tags": {"$nin": {"a": 1}}}, DRIFT_FIELDS, "'$nin' expects an array, got object"),
        ({"tags": {"$all": None}}, DRIFT_FIELDS, "'$all' expects an array, got null"),
        # Dates.
        ({"created_at": 1700000000}, DRIFT_FIELDS, "field 'created_at' expects an ISO 8601 date string, got number"),
        ({"created_at": {"$gt": True}}, DRIFT_FIELDS, "field 'created_at' expects an ISO 8601 date string, got boolean"),
        # Operators on the wrong kind of field.
        ({"public": {"$gt": True}}, EXPERIMENT_FIELDS, "operator '$gt' cannot be used on field 'public' (boolean)"),
        ({"public": {"$regex": "t"}}, EXPERIMENT_FIELDS, "operator '$regex' cannot be used on field 'public' (boolean)"),
        ({"id": {"$regex": "^a"}}, DRIFT_FIELDS, "operator '$regex' cannot be used on field 'id' (id)"),
        ({"created_at": {"$regex": "2026"}}, DRIFT_FIELDS, "operator '$regex' cannot be used on field 'created_at' (datetime)"),
        ({"name": {"$size": 1}}, EXPERIMENT_FIELDS, "operator '$size' cannot be used on field 'name' (string)"),
        ({"created_at": {"$all": ["2026-01-01"]}}, DRIFT_FIELDS, "operator '$all' cannot be used on field 'created_at' (datetime)"),
        # $not.
        ({"model": {"$not": "abc"}}, DRIFT_FIELDS, "'$not' expects an operator object"),
        ({"model": {"$not": {}}}, DRIFT_FIELDS, "'$not' expects an operator object"),
        ({"model": {"$not": {"a": 1}}}, DRIFT_FIELDS, "'$not' expects an operator object"),
        ({"model": {"$not": {"$eq": "a", "b": 1}}}, DRIFT_FIELDS, "'$not' expects an operator object"),
        # Logical operators.
        ({"$or": []}, DRIFT_FIELDS, "'$or' expects a non-empty array of filter objects, got array"),
        ({"$and": {"model": "a"}}, DRIFT_FIELDS, "'$and' expects a non-empty array of filter objects, got object"),
        ({"$nor": "x"}, DRIFT_FIELDS, "'$nor' expects a non-empty array of filter objects, got string"),
        ({"$or": [{"model": "a"}, "model"]}, DRIFT_FIELDS, "each clause of '$or' must be a filter object, got string"),
        ({"$and": [[{"model": "a"}]]}, DRIFT_FIELDS, "each clause of '$and' must be a filter object, got array"),
        # Values a JSON body cannot carry, or BSON cannot store.
        ({"parameters.x": 2**63}, DRIFT_FIELDS, "does not fit in a 64-bit integer"),
        ({"parameters.x": -(2**63) - 1}, DRIFT_FIELDS, "does not fit in a 64-bit integer"),
        ({"parameters": {"a\x00b": 1}}, DRIFT_FIELDS, "must not contain NUL characters"),
        ({"parameters.x": {1, 2}}, DRIFT_FIELDS, "unsupported value of type set"),
        ({"parameters.x": (1, 2)}, DRIFT_FIELDS, "unsupported value of type tuple"),
        ({"created_at": datetime(2026, 1, 1)}, DRIFT_FIELDS, "unsupported value of type datetime"),
        ({1: "x"}, DRIFT_FIELDS, "object keys must be strings"),
    ],
)
def test_wrong_value(filter_doc, fields, message):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter(filter_doc, fields)
    assert message in excinfo.value.message


def test_largest_int64_is_accepted():
    assert compile_filter({"parameters.x": {"$in": [2**63 - 1, -(2**63)]}}, DRIFT_FIELDS) == {
        "parameters.x": {"$in": [2**63 - 1, -(2**63)]}
    }


@pytest.mark.parametrize(
    "text",
    [
        "yesterday", "", "2026-13-01", "2026-02-30", "2026-11-22T25:00:00Z", "22/11/2026",
        "2026-11-22T10:00:00+25:00", "0001-01-01T00:00:00+01:00", "2026-11-22T10:00:00 UTC",
        "x" * 10_000,
    ],
)
def test_bad_dates(text):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter({"updated_at": {"$lt": text}}, EXPERIMENT_FIELDS)
    message = excinfo.value.message
    assert message.startswith("invalid date ")
    assert "for field 'updated_at': expected ISO 8601" in message
    assert len(message) < 250  # long input is abbreviated, not echoed
    assert excinfo.value.path == "updated_at.$lt"


@pytest.mark.parametrize(
    ("filter_doc", "message", "path"),
    [
        ({"name": {"$regex": "("}}, "invalid regular expression for field 'name'", "name.$regex"),
        ({"name": {"$regex": "[a-"}}, "invalid regular expression for field 'name'", "name.$regex"),
        ({"name": {"$regex": "*a"}}, "invalid regular expression for field 'name'", "name.$regex"),
        ({"name": {"$regex": "a{2,1}"}}, "invalid regular expression for field 'name'", "name.$regex"),
        ({"name": {"$regex": 5}}, "'$regex' expects a string, got number", "name.$regex"),
        ({"name": {"$regex": "a" * (MAX_REGEX_LENGTH + 1)}},
         f"the regex pattern has {MAX_REGEX_LENGTH + 1} characters (maximum is {MAX_REGEX_LENGTH})", "name.$regex"),
        ({"name": {"$regex": "a", "$options": "g"}}, "unsupported regex option(s) 'g'", "name.$options"),
        ({"name": {"$regex": "a", "$options": "iu"}}, "unsupported regex option(s) 'u'", "name.$options"),
        ({"name": {"$regex": "a", "$options": 1}}, "'$options' expects a string, got number", "name.$options"),
        ({"name": {"$options": "i"}}, "'$options' is only allowed together with '$regex'", "name.$options"),
        ({"name": {"$not": {"$options": "i"}}}, "'$options' is only allowed together with '$regex'", "name.$not.$options"),
        ({"name": {"$not": {"$regex": "("}}}, "invalid regular expression", "name.$not.$regex"),
    ],
)
def test_bad_regex(filter_doc, message, path):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter(filter_doc, EXPERIMENT_FIELDS)
    assert message in excinfo.value.message
    assert excinfo.value.path == path


def test_longest_allowed_regex_is_accepted():
    pattern = "a" * MAX_REGEX_LENGTH
    assert compile_filter({"name": {"$regex": pattern}}, EXPERIMENT_FIELDS) == {"name": {"$regex": pattern}}


@pytest.mark.parametrize(
    ("filter_doc", "fields", "key", "path"),
    [
        ({"parameters": {"$gt": 1, "window": 2}}, DRIFT_FIELDS, "window", "parameters"),
        ({"parameters.x": {"a": 1, "$where": "1"}}, DRIFT_FIELDS, "a", "parameters.x"),
        ({"$or": [{"tags": {"$in": ["a"], "x": 1}}]}, DRIFT_FIELDS, "x", "$or[0].tags"),
        ({"name": {"$eq": "a", "first": "b"}}, EXPERIMENT_FIELDS, "first", "name"),
    ],
)
def test_mixed_operator_and_literal_keys(filter_doc, fields, key, path):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter(filter_doc, fields)
    assert "mixes operators with plain keys" in excinfo.value.message
    assert f"({key})" in excinfo.value.message
    assert excinfo.value.path == path


@pytest.mark.parametrize(
    ("filter_doc", "key", "path"),
    [
        ({"parameters": {"a": {"$gt": 1}}}, "$gt", "parameters.a.$gt"),
        ({"parameters": {"a": [{"b": {"$where": "1"}}]}}, "$where", "parameters.a[0].b.$where"),
        ({"parameters.x": {"$eq": {"$ne": 1}}}, "$ne", "parameters.x.$eq.$ne"),
        ({"parameters.x": {"$in": [{"ok": 1}, {"$expr": 1}]}}, "$expr", "parameters.x.$in[1].$expr"),
        ({"parameters.x": {"$all": [{"$elemMatch": {"a": 1}}]}}, "$elemMatch", "parameters.x.$all[0].$elemMatch"),
        ({"parameters.x": [1, {"y": {"$function": {}}}]}, "$function", "parameters.x[1].y.$function"),
        ({"concept_drift": {"drift": True, "parameters": {"$where": "1"}}}, "$where",
         "concept_drift.parameters.$where"),
    ],
)
def test_dollar_keys_inside_literals(filter_doc, key, path):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter(filter_doc, DRIFT_FIELDS)
    assert f"'{key}' is not allowed inside a literal value" in excinfo.value.message
    assert excinfo.value.path == path


@pytest.mark.parametrize(
    ("body", "type_name"),
    [([], "array"), ([{"model": "a"}], "array"), ("model", "string"), (None, "null"), (5, "number"), (True, "boolean")],
)
def test_body_must_be_an_object(body, type_name):
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter(body, DRIFT_FIELDS)
    assert excinfo.value.message == f"the filter must be a JSON object, got {type_name}"
    assert excinfo.value.path == ""


# --- Limits -------------------------------------------------------------------

def test_depth_limit():
    # nested_or(n) reaches depth 2n + 1 (or 2n + 2 with the operator object below).
    levels = (MAX_DEPTH - 1) // 2
    assert compile_filter(nested_or(levels), DRIFT_FIELDS)
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter(nested_or(levels + 1), DRIFT_FIELDS)
    assert f"nested too deeply (maximum depth is {MAX_DEPTH})" in excinfo.value.message


def test_depth_counts_literal_values():
    def literal(depth):
        value = 1
        for _ in range(depth):
            value = {"a": value}
        return value

    # The filter object itself is level 1.
    assert compile_filter({"parameters": literal(MAX_DEPTH - 1)}, DRIFT_FIELDS)
    with pytest.raises(QueryLanguageError, match="nested too deeply"):
        compile_filter({"parameters": literal(MAX_DEPTH)}, DRIFT_FIELDS)
    with pytest.raises(QueryLanguageError, match="nested too deeply"):
        compile_filter({"parameters.x": [[[[[[[[[[1]]]]]]]]]]}, DRIFT_FIELDS)


def test_depth_limit_holds_far_beyond_the_recursion_limit():
    deep = [1]
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(QueryLanguageError, match="nested too deeply"):
        compile_filter({"parameters": deep}, DRIFT_FIELDS)


@pytest.mark.parametrize(
    "make_filter",
    [
        lambda items: {"tags": {"$in": items}},
        lambda items: {"tags": {"$nin": items}},
        lambda items: {"tags": {"$all": items}},
        lambda items: {"parameters.x": items},
        lambda items: {"$or": [{"tags": item} for item in items]},
    ],
    ids=["$in", "$nin", "$all", "literal", "$or"],
)
def test_array_length_limit(make_filter):
    # The $or table also hits the conditions limit; the array check runs first.
    ok = make_filter(["t"] * min(MAX_ARRAY_LENGTH, MAX_CONDITIONS - 1))
    assert compile_filter(ok, DRIFT_FIELDS)
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter(make_filter(["t"] * (MAX_ARRAY_LENGTH + 1)), DRIFT_FIELDS)
    assert f"the array has {MAX_ARRAY_LENGTH + 1} elements (maximum is {MAX_ARRAY_LENGTH})" in excinfo.value.message


def test_longest_allowed_array_is_accepted():
    items = [str(i) for i in range(MAX_ARRAY_LENGTH)]
    assert compile_filter({"tags": {"$in": items}}, DRIFT_FIELDS) == {"tags": {"$in": items}}


def test_conditions_limit():
    # Each clause of the $or holds one field condition; the $or key itself is one more.
    ok = {"$or": [{"model": str(i)} for i in range(MAX_CONDITIONS - 1)]}
    assert compile_filter(ok, DRIFT_FIELDS)
    too_many = {"$or": [{"model": str(i)} for i in range(MAX_CONDITIONS)]}
    with pytest.raises(QueryLanguageError) as excinfo:
        compile_filter(too_many, DRIFT_FIELDS)
    assert f"too many conditions (maximum is {MAX_CONDITIONS})" in excinfo.value.message


def test_conditions_limit_counts_operators():
    # Field + two operators per clause.
    clause = {"parameters.x": {"$gt": 1, "$lt": 2}}
    count = MAX_CONDITIONS // 3 + 1
    with pytest.raises(QueryLanguageError, match="too many conditions"):
        compile_filter({"$and": [clause] * count}, DRIFT_FIELDS)


def test_limits_are_sensible():
    assert MAX_DEPTH == 10
    assert MAX_ARRAY_LENGTH == 500
    assert MAX_CONDITIONS == 200
    assert MAX_REGEX_LENGTH == 256
