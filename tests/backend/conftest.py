"""Fixtures of the backend's tests, besides the shared ones in tests/conftest.py."""

import pytest


@pytest.fixture
def experiment(alice, make_experiment):
    """A private experiment that alice manages."""
    return make_experiment(alice)
