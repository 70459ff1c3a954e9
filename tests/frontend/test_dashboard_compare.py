"""Comparing two drift runs path by path."""

import math

from dashboard.compare import compare_runs, display, flatten


def test_flatten_uses_dotted_paths_and_keeps_lists_whole():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x", "f": {}}) == {"a.b": 1, "a.c.d": [1, 2], "e": "x",
                                                                               "f": {}}
    assert flatten({}) == {}


def test_display_keeps_strings_and_writes_the_rest_as_json():
    assert display("text") == "text"
    assert display(True) == "true"
    assert display(None) == "null"
    assert display([1, "a"]) == '[1, "a"]'


def run(**fields):
    return {"id": "run", "experiment_id": "exp", "model": "m1", "job_status": "Completed", **fields}


def test_compare_shows_both_values_the_difference_and_what_changed():
    a = run(id="a", parameters={"accuracy": 0.9, "n": 100, "note": "x"},
            data_drift={"drift": False, "parameters": {"age": {"p_value": 0.5}}})
    b = run(id="b", parameters={"accuracy": 0.8, "n": 100, "extra": True},
            data_drift={"drift": True, "parameters": {"age": {"p_value": 0.01}}})
    frame = compare_runs(a, b).set_index("path")
    assert "id" not in frame.index and "experiment_id" not in frame.index
    assert frame.loc["parameters.accuracy", "A"] == "0.9" and frame.loc["parameters.accuracy", "B"] == "0.8"
    assert math.isclose(frame.loc["parameters.accuracy", "difference"], -0.1)
    assert frame.loc["parameters.accuracy", "changed"]
    assert not frame.loc["parameters.n", "changed"] and frame.loc["parameters.n", "difference"] == 0
    assert frame.loc["parameters.note", "B"] == "" and frame.loc["parameters.note", "changed"]
    assert frame.loc["parameters.extra", "A"] == "" and frame.loc["parameters.extra", "B"] == "true"
    assert frame.loc["data_drift.drift", "changed"] and math.isnan(frame.loc["data_drift.drift", "difference"])
    assert math.isclose(frame.loc["data_drift.parameters.age.p_value", "difference"], -0.49)
    assert not frame.loc["model", "changed"]
    # Paths of A first, then those only B has.
    assert list(frame.index)[-1] == "parameters.extra"


def test_a_flag_that_became_a_number_changed():
    frame = compare_runs(run(parameters={"x": True}), run(parameters={"x": 1})).set_index("path")
    assert frame.loc["parameters.x", "changed"]


def test_identical_runs_differ_nowhere():
    frame = compare_runs(run(parameters={"x": 1}), run(parameters={"x": 1}))
    assert not frame["changed"].any()
    assert list(frame.columns) == ["path", "A", "B", "difference", "changed"]
