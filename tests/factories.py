"""Test data shared by fixtures and tests: API prefix, sandbox groups, users and run bodies.

A module of its own (not conftest.py) so tests can import it unambiguously.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sandbox.backend import SANDBOX_ADMINS_GROUP

USERS_GROUP = "urn:example:drift-monitor:users"
ADMINS_GROUP = SANDBOX_ADMINS_GROUP
API = "/api/v1"


@dataclass
class User:
    sub: str
    email: str
    token: str
    id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def run_body(**overrides) -> dict:
    """A drift-run body as the published client sends it, with overrides."""
    return {"job_status": "Running", "model": "model-1", "tags": [], "drift_detected": False,
            "parameters": {}, **overrides}


def drifts_url(experiment: dict, *parts: str) -> str:
    """`/api/v1/experiment/<id>/drift`, then `parts` (a run id, `search`, `summary`…)."""
    return "/".join([f"{API}/experiment/{experiment['id']}/drift", *parts])


def iso(moment: datetime) -> str:
    """A datetime as the API writes it: UTC, milliseconds, `Z`."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def operators_used(filter_doc) -> set[str]:
    """Every `$operator` a filter document uses, at any depth."""
    if isinstance(filter_doc, dict):
        found = {key for key in filter_doc if key.startswith("$")}
        for value in filter_doc.values():
            found |= operators_used(value)
        return found
    if isinstance(filter_doc, list):
        return set().union(*(operators_used(item) for item in filter_doc))
    return set()
