"""Every test gets unit, integration or what else it needs from tests/conftest.py (rules in markers.py)."""

from __future__ import annotations

import pytest
from markers import NEEDS_MORE, derived_markers


@pytest.mark.parametrize(("folder", "fixtures", "own", "expected"), [
    ("backend", ["tmp_path"], [], {"unit"}),
    ("backend", ["client", "app", "app_env", "idp", "mongo_uri"], [], {"integration"}),
    ("client", ["backend_url", "backend_database_name", "mongo_uri", "idp"], [], {"integration"}),
    ("detector", ["server", "detector_backend", "mongo_uri", "idp"], [], {"integration"}),
    ("sandbox", [], [], {"integration"}),  # starts its own servers with the sandbox launchers
    ("stack", [], ["skipif"], {"integration"}),
    ("e2e", ["dashboard", "backend_url", "mongo_uri", "idp"], ["e2e"], {"browser", "integration"}),
    ("frontend", [], ["e2e"], {"browser"}),  # the former marker still means a browser
    ("deploy", [], ["docker"], set()),
    ("client", [], ["network"], set()),
    ("compat", ["app_env", "mongo_uri", "idp"], ["network"], {"integration"}),
    ("backend", ["client", "mongo_uri"], ["integration"], set()),  # already marked: nothing added twice
    ("", [], [], {"unit"}),  # a test file directly in tests/
])
def test_derived_markers(folder, fixtures, own, expected):
    assert derived_markers(folder, fixtures, own) == expected


def test_this_test_is_a_unit_test(request):
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


def test_every_collected_test_is_unit_or_says_what_it_needs(request):
    for item in request.session.items:
        names = {mark.name for mark in item.iter_markers()}
        assert ("unit" in names) != bool(NEEDS_MORE & names), (item.nodeid, names)
        if "mongo_uri" in item.fixturenames or "idp" in item.fixturenames:
            assert "integration" in names, item.nodeid
