"""Security issue 11: input built to break the server answers a 4xx JSON error and stores nothing.

Each case used to answer 500 with a traceback in the log (or hang a worker), or leaked data through
the order of results.
"""

import pytest

from factories import API, drifts_url, run_body

ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_client_error(response, status=422):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert set(response.json) == ERROR_KEYS


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**40, {"deep": [1, 2**64]}])
def test_integers_beyond_int64_in_parameters_are_refused(client, alice, experiment, db, value):
    response = client.post(drifts_url(experiment), json=run_body(parameters={"n": value}), headers=alice.headers)

    assert_client_error(response)
    assert "parameters" in response.json["message"]
    assert db.drifts.count_documents({}) == 0


@pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_dates_that_overflow_in_utc_are_refused(client, alice, experiment, db, created_at):
    response = client.post(drifts_url(experiment), json={**run_body(), "created_at": created_at},
                           headers=alice.headers)

    assert_client_error(response)
    assert db.drifts.count_documents({}) == 0


def test_a_filter_date_that_overflows_in_utc_is_refused(client, alice, experiment):
    response = client.post(f"{drifts_url(experiment)}/search", headers=alice.headers,
                           json={"created_at": {"$gte": "0001-01-01T00:00:00+01:00"}})

    assert_client_error(response)


@pytest.mark.parametrize("query", ["page=99999999999999999999", "page=9999999999", "page_size=99999999999"])
def test_a_huge_page_is_refused(client, alice, experiment, query):
    response = client.post(f"{API}/experiment/search?{query}", json={}, headers=alice.headers)

    assert_client_error(response)


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_a_body_nested_thousands_of_levels_deep_is_refused(client, alice, experiment, body):
    response = client.post(drifts_url(experiment), data=body, content_type="application/json",
                           headers=alice.headers)

    assert response.status_code in (400, 422), response.status_code
    assert set(response.json) == ERROR_KEYS


def test_permission_entries_are_not_sortable(client, alice, make_user, make_experiment):
    # Bob's experiment is public: alice sees it but not its permission entries. Sorting by them
    # would tell her, by where it lands among experiments whose grants she knows, who bob granted.
    bob = make_user()
    make_experiment(bob, public=True, permissions=[{"entity": "urn:secret:group", "level": "Read"}])
    for field in ("permissions.entity", "permissions.level", "permissions"):
        response = client.post(f"{API}/experiment/search?sort_by={field}", json={}, headers=alice.headers)
        assert_client_error(response)
        assert "cannot sort by" in response.json["message"]


@pytest.mark.parametrize("pattern, reason", [
    ("(a+)+$", "nested repetition"), ("(x+x+)+y", "nested repetition"), ("(a*)*", "nested repetition"),
    (r"(a)\1", "backreferences"), ("(?=a)b", "lookahead"), ("a" * 300, "characters"),
])
def test_expensive_regular_expressions_are_refused(client, alice, pattern, reason):
    response = client.post(f"{API}/experiment/search", json={"name": {"$regex": pattern}}, headers=alice.headers)

    assert_client_error(response)
    assert reason in response.json["message"]


def test_the_number_of_regular_expressions_is_bounded(client, alice):
    six = {"$or": [{"name": {"$regex": f"^{letter}"}} for letter in "abcdef"]}
    five = {"$or": six["$or"][:5]}

    assert client.post(f"{API}/experiment/search", json=five, headers=alice.headers).status_code == 200
    response = client.post(f"{API}/experiment/search", json=six, headers=alice.headers)
    assert_client_error(response)
    assert "too many regular expressions" in response.json["message"]


def test_ordinary_regular_expressions_still_work(client, alice, make_experiment):
    make_experiment(alice, name="churn-model-2026")
    for pattern in ("^churn", "model-[0-9]{4}$", "(churn|fraud)-model", "CHURN"):
        response = client.post(f"{API}/experiment/search", headers=alice.headers,
                               json={"name": {"$regex": pattern, "$options": "i"}})
        assert response.status_code == 200 and [e["name"] for e in response.json] == ["churn-model-2026"]


def test_an_overview_window_that_overflows_in_utc_is_refused(client, alice, experiment):
    response = client.get(f"{drifts_url(experiment)}/summary?since=0001-01-01T00:00:00%2B01:00",
                          headers=alice.headers)

    assert_client_error(response)
