"""One registry of drift tests: the built-ins with their properties, a configured plug-in dispatched by
the same code path, and clear errors for unknown or duplicate names."""

from __future__ import annotations

import numpy as np
import pytest

from detector.config import Config
from detector.detection import compare_columns, detect_data_drift
from detector.errors import ConfigError, PluginError
from detector.profile import fit_profile
from detector.registry import BUILT_IN, BatchTest, ColumnTest, Registry, registry_for

BUILT_INS = {  # name: (kinds, result, default threshold, aliases)
    "ks": (("numeric",), "p_value", None, ("kolmogorov-smirnov",)),
    "wasserstein": (("numeric",), "distance", 0.1, ("wasserstein_distance",)),
    "chi2": (("categorical",), "p_value", None, ("chi-squared", "chisquare")),
    "psi": (("numeric", "categorical"), "distance", 0.2, ()),
    "jensenshannon": (("numeric", "categorical"), "distance", 0.1, ("js", "jensen-shannon")),
}


@pytest.mark.parametrize("name", BUILT_INS)
def test_every_built_in_declares_its_kinds_result_threshold_and_aliases(name):
    kinds, result, threshold, aliases = BUILT_INS[name]
    test = BUILT_IN.get(name)
    assert isinstance(test, ColumnTest) and test.origin == "built-in"
    assert (test.kinds, test.result, test.default_threshold, test.aliases) == (kinds, result, threshold, aliases)
    assert test.gives_p_value == (result == "p_value")
    for alias in aliases:
        assert BUILT_IN.get(alias.upper()) is test  # aliases are case-insensitive


def test_the_built_in_registry_lists_tests_by_kind_and_is_read_only():
    assert list(BUILT_IN.names()) == list(BUILT_INS)
    assert BUILT_IN.names("numeric") == ["ks", "wasserstein", "psi", "jensenshannon"]
    assert BUILT_IN.names("categorical") == ["chi2", "psi", "jensenshannon"]
    assert BUILT_IN.default_thresholds() == {"wasserstein": 0.1, "psi": 0.2, "jensenshannon": 0.1}
    assert BUILT_IN.column_test("ks", "categorical") is None and BUILT_IN.column_test("ks", "numeric").name == "ks"
    with pytest.raises(ConfigError, match="read-only"):
        BUILT_IN.register(BatchTest("m:f", lambda *_: (False, {})))
    registry = registry_for(Config.from_mapping({"project": "p"}))
    assert list(registry.names()) == list(BUILT_INS) and registry is not BUILT_IN


def test_unknown_names_list_the_available_tests():
    with pytest.raises(ConfigError) as raised:
        BUILT_IN.get("anderson")
    assert "unknown drift test 'anderson'" in str(raised.value)
    assert "ks, wasserstein, chi2, psi, jensenshannon" in str(raised.value)
    with pytest.raises(ConfigError, match=r"tests.numeric: 'anderson' is not a numeric test \(ks, wasserstein, psi"):
        Config.from_mapping({"tests": {"numeric": "anderson"}})
    with pytest.raises(ConfigError, match=r"features.x.test: 'anderson' is not one of ks, wasserstein, chi2"):
        Config.from_mapping({"features": {"x": "anderson"}})


def test_duplicate_names_and_aliases_are_refused():
    registry = BUILT_IN.copy()
    compute = BUILT_IN.get("psi").compute
    with pytest.raises(ConfigError, match="'psi' is already taken by 'psi'"):
        registry.register(ColumnTest("PSI", ("numeric",), "distance", compute, default_threshold=1.0))
    with pytest.raises(ConfigError, match="'js' is already taken by 'jensenshannon'"):
        registry.register(ColumnTest("new", ("numeric",), "distance", compute, default_threshold=1.0, aliases=("js",)))
    with pytest.raises(ConfigError, match="given twice"):
        registry.register(ColumnTest("twin", ("numeric",), "distance", compute, default_threshold=1.0,
                                     aliases=("twin",)))
    assert "new" not in registry and "twin" not in registry  # a refused test leaves nothing behind
    with pytest.raises(ConfigError, match="a distance needs a default threshold"):
        ColumnTest("bad", ("numeric",), "distance", compute)
    with pytest.raises(ConfigError, match="kinds must be some of numeric, categorical"):
        ColumnTest("bad", ("ordinal",), "p_value", compute)


def test_a_column_test_registered_beside_the_built_ins_is_dispatched_with_its_columns(make_frame):
    seen = []

    def mean_gap(columns):
        seen.append([column.name for column in columns])
        return [{"statistic": abs(float(column.current.mean() - column.profile["mean"])), "p_value": None}
                for column in columns]

    registry = Registry()
    registry.register(ColumnTest("mean_gap", ("numeric",), "distance", mean_gap, default_threshold=0.5))
    config = Config.from_mapping({"project": "p", "timestamp_column": "ts"})
    profile, _ = fit_profile(make_frame(2000, seed=1, categorical=0, with_target=False), config)
    current = make_frame(1000, seed=2, categorical=0, shift={"x1": 2.0}, with_target=False)
    results = compare_columns(profile["features"], {name: current[name] for name in profile["features"]},
                              dict.fromkeys(profile["features"], "mean_gap"), registry=registry)
    assert seen == [["x0", "x1", "x2"]]  # one call for every column that uses the test
    assert results["x1"]["test"] == "mean_gap" and results["x1"]["statistic"] == pytest.approx(2.0, abs=0.15)
    assert results["x0"]["statistic"] < 0.15 and results["x0"]["effect_size"] is not None
    with pytest.raises(ConfigError, match="unknown drift test 'ks'"):  # only what the registry holds
        compare_columns(profile["features"], {name: current[name] for name in profile["features"]},
                        dict.fromkeys(profile["features"], "ks"), registry=registry)


def test_the_built_in_tests_compute_what_the_statistics_module_does(make_frame):
    config = Config.from_mapping({"project": "p", "timestamp_column": "ts",
                                  "features": {"x0": "ks", "x1": "wasserstein", "x2": "psi", "c0": "chi2",
                                               "c1": "js"}})
    reference = make_frame(3000, seed=3, with_target=False)
    current = make_frame(1500, seed=4, shift={"x1": 0.5, "c1": [0.1, 0.1, 0.2, 0.3, 0.3]}, with_target=False)
    profile, _ = fit_profile(reference, config)
    detected, parameters = detect_data_drift(profile, current, config)
    features = parameters["features"]
    from scipy import stats

    sample = np.asarray(profile["features"]["x0"]["sample"])
    assert features["x0"]["statistic"] == pytest.approx(stats.ks_2samp(sample, current["x0"]).statistic)
    assert features["x1"]["drifted"] and features["x1"]["p_value"] is None and features["x1"]["threshold"] == 0.1
    assert features["c0"]["df"] == 4 and features["c0"]["p_value_adjusted"] >= features["c0"]["p_value"]
    assert features["c1"]["test"] == "jensenshannon" and features["c1"]["drifted"]
    assert detected and parameters["n_drifted"] == 2


def test_a_plugin_named_by_the_configuration_is_registered_and_dispatched(make_frame, tmp_path, monkeypatch):
    (tmp_path / "registry_plugin.py").write_text(
        "calls = []\n"
        "def detect(reference, current, config):\n"
        "    calls.append((len(reference), len(current), config['detector_options']))\n"
        "    return 1, {'rows': len(current)}\n"
        "def broken(reference, current, config):\n"
        "    return 'drift!'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Config.from_mapping({"project": "p", "detector": "registry_plugin:detect",
                                  "detector_options": {"k": 3}})
    registry = registry_for(config)
    plugin = registry.get("registry_plugin:detect")
    assert isinstance(plugin, BatchTest) and plugin.origin == "plug-in"
    assert "registry_plugin:detect" not in BUILT_IN  # plug-ins never enter the shared built-ins

    reference, current = make_frame(200, seed=1), make_frame(50, seed=2)
    profile, _ = fit_profile(reference, Config.from_mapping({"project": "p"}))
    detected, parameters = detect_data_drift(profile, current, config, reference_sample=lambda: reference)
    import registry_plugin

    assert (detected, parameters) == (True, {"rows": 50})
    assert registry_plugin.calls == [(200, 50, {"k": 3})]

    broken = Config.from_mapping({"project": "p", "detector": "registry_plugin:broken"})
    with pytest.raises(PluginError, match="must return \\(detected, parameters\\)"):
        detect_data_drift(profile, current, broken, reference_sample=lambda: reference)
    with pytest.raises(ConfigError, match="has no 'missing'"):
        registry_for(Config.from_mapping({"project": "p", "detector": "registry_plugin:missing"}))
