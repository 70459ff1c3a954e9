"""Which markers a test gets from where it lives and what it uses (applied by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterable

#: A test that uses one of these fixtures (directly or through another fixture) reaches a server process:
#: the database, the identity provider, and through them the app, its client and the live backends.
INTEGRATION_FIXTURES = frozenset({"mongo_uri", "idp"})
#: Folders of tests/ whose tests start servers of their own with the sandbox launchers, or check a running stack.
INTEGRATION_FOLDERS = frozenset({"sandbox", "stack"})
#: Folders of tests/ whose tests drive a browser.
BROWSER_FOLDERS = frozenset({"e2e"})
#: Markers that say a test needs more than Python: such a test is never a unit test.
NEEDS_MORE = frozenset({"integration", "browser", "docker", "network"})


def derived_markers(folder: str, fixtures: Iterable[str], own: Iterable[str]) -> set[str]:
    """The markers to add to a test in ``tests/<folder>`` that uses ``fixtures`` and is marked ``own``.

    ``browser`` for the browser folders and the former ``e2e`` marker; ``integration`` for a test that
    reaches a server; ``unit`` for every test that needs nothing of `NEEDS_MORE`.
    """
    own = set(own)
    added = set()
    if folder in BROWSER_FOLDERS or "e2e" in own:
        added.add("browser")
    if folder in INTEGRATION_FOLDERS or INTEGRATION_FIXTURES & set(fixtures):
        added.add("integration")
    if not NEEDS_MORE & (own | added):
        added.add("unit")
    return added - own
