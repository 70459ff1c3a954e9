"""Fixtures of the dashboard tests: users of the module's live backend (tests/conftest.py), AppTests of the dashboard."""

# Pages run in-process under Streamlit's AppTest; the API is the real one (sandbox/backend.py) and tokens
# come from the sandbox identity provider. A test logs in the way the sidebar does: by putting a pasted
# credential into the session state.

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from drift_monitor import Client
from streamlit.testing.v1 import AppTest

from factories import USERS_GROUP

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
# The app imports `dashboard` from next to streamlit_app.py, as `streamlit run` arranges it.
sys.path.insert(0, str(FRONTEND))

APP = FRONTEND / "streamlit_app.py"
#: Seconds one script run may take; generous for a loaded 2-core machine.
RUN_TIMEOUT = 30


@pytest.fixture(autouse=True)
def dashboard_environment(clean_environment, monkeypatch, request):
    """The dashboard's environment, as a deployment sets it, on top of the clean one (tests/conftest.py):
    the module's live backend (`backend_url`) and the sandbox provider as the MyToken server."""
    if "backend_url" in request.fixturenames:
        monkeypatch.setenv("DRIFT_MONITOR_URL", request.getfixturevalue("backend_url"))
        monkeypatch.setenv("DRIFT_MONITOR_MYTOKEN_SERVER", request.getfixturevalue("idp").issuer)


@dataclass
class Person:
    """A sandbox user: an access token, and a client of the backend acting as them."""

    token: str
    email: str
    api: Client
    id: str | None = None


@pytest.fixture(scope="module")
def make_person(idp, backend_url):
    """make_person(register=True) → a new user with a fresh token (registered unless told otherwise)."""
    clients = []

    def make(register: bool = True, **token_options) -> Person:
        sub = str(uuid.uuid4())
        email = f"{sub[:8]}@example.org"
        token = idp.token(sub, email=email, entitlements=[USERS_GROUP], **token_options)
        api = Client(url=backend_url, token=token)
        clients.append(api)
        person = Person(token, email, api)
        if register:
            person.id = api.register()["id"]
        return person

    yield make
    for api in clients:
        api.close()


@pytest.fixture
def open_app():
    """open_app(page=None, person=None, query=None) → an AppTest of the dashboard, run on that page."""

    def open_(page: str | None = None, person: Person | None = None, query: dict | None = None,
              **options) -> AppTest:
        app = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
        if person is not None:
            log_in(app, person.token)
        for name, value in options.items():
            setattr(app, name, value)
        app.query_params.update(query or {})
        app.run()
        if page:
            app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception, [exception.value for exception in app.exception]
        return app

    return open_


def log_in(app: AppTest, token: str, kind: str = "access_token") -> None:
    """What the sidebar's "Use token" form does with a pasted token."""
    app.session_state["pasted_credentials"] = {"kind": kind, "secret": token}
