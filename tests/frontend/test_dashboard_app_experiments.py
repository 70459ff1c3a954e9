"""The dashboard's frame and Experiments page against a real backend: logging in and out, the list, creating."""

from __future__ import annotations

import uuid

import pytest

from sandbox.database import free_port


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def submit(app, label: str):
    [button] = [button for button in app.get("form_submit_button") if button.label == label]
    return button.click().run()


def listed(app) -> list[str]:
    tables = [table for table in app.dataframe if table.key == "experiments_table"]
    return list(tables[0].value["name"]) if tables else []


@pytest.fixture(scope="module")
def world(make_person):
    """An owner with a public and a private experiment (one run each), and a stranger."""
    owner, stranger = make_person(), make_person()
    public = owner.api.create_experiment(f"public-{uuid.uuid4().hex[:8]}", "for everyone", public=True)
    private = owner.api.create_experiment(f"private-{uuid.uuid4().hex[:8]}", "for the owner")
    for experiment in (public, private):
        owner.api.create_drift(experiment, model="m1", job_status="Completed", drift_detected=True,
                               data_drift={"drift": True, "parameters": {}})
    return {"owner": owner, "stranger": stranger, "public": public, "private": private}


def test_anonymous_visitors_see_public_experiments_only_and_cannot_create(open_app, world):
    app = open_app()
    names = listed(app)
    assert world["public"]["name"] in names and world["private"]["name"] not in names
    assert "Not logged in: you see public experiments only." in texts(app.sidebar.caption)
    table = app.dataframe(key="experiments_table").value.set_index("name")
    assert table.loc[world["public"]["name"], "runs"] == 1
    assert table.loc[world["public"]["name"], "drift_share"] == 1.0
    assert list(table.loc[world["public"]["name"], "visibility"]) == ["public"]
    buttons = {button.label: button for button in app.get("form_submit_button")}
    assert buttons["Create"].disabled and not buttons["Use token"].disabled
    assert "Log in to create an experiment." in texts(app.info)
    # No identity provider configured: no browser login button.
    assert "Log in" not in [button.label for button in app.sidebar.button]


def test_owner_sees_private_experiments_and_who_is_logged_in(open_app, world):
    app = open_app(person=world["owner"])
    names = listed(app)
    assert {world["public"]["name"], world["private"]["name"]} <= set(names)
    assert f"Logged in as **{world['owner'].email}**" in texts(app.sidebar.markdown)
    assert [button.disabled for button in app.get("form_submit_button")] == [False]  # "Create"


def test_search_by_name_and_empty_result(open_app, world):
    app = open_app(person=world["owner"])
    app.text_input(key="experiments_search").set_value(world["private"]["name"][:12]).run()
    assert listed(app) == [world["private"]["name"]]
    app.text_input(key="experiments_search").set_value("no-such-experiment-anywhere").run()
    assert listed(app) == []
    assert any("no-such-experiment-anywhere" in text for text in texts(app.info))


def test_sort_and_pages(open_app, make_person):
    person = make_person()
    prefix = f"paged-{uuid.uuid4().hex[:6]}"
    for index in range(21):
        person.api.create_experiment(f"{prefix}-{index:02d}")
    app = open_app(person=person)
    app.text_input(key="experiments_search").set_value(prefix).run()
    assert listed(app)[:2] == [f"{prefix}-00", f"{prefix}-01"] and len(listed(app)) == 20
    app.get("pagination")[0].set_value(2).run()
    assert listed(app) == [f"{prefix}-20"]
    app.selectbox(key="experiments_sort").set_value("Newest first").run()  # back to the first page
    assert listed(app)[0] == f"{prefix}-20"


def test_pasting_a_token_in_the_sidebar_logs_in_and_log_out_forgets_it(open_app, world):
    app = open_app()
    app.sidebar.text_input(key="paste_secret").set_value(world["owner"].token)
    submit(app, "Use token")
    assert f"Logged in as **{world['owner'].email}**" in texts(app.sidebar.markdown)
    assert world["private"]["name"] in listed(app)
    # The token is kept once, as the session's credential, not also by the widget that received it.
    assert [key for key, value in app.session_state.items() if world["owner"].token in str(value)] == [
        "pasted_credentials"]
    app.sidebar.button(key="log_out").click().run()
    assert "pasted_credentials" not in app.session_state
    assert world["private"]["name"] not in listed(app)
    assert "Not logged in: you see public experiments only." in texts(app.sidebar.caption)


def test_a_mytoken_is_exchanged_at_the_mytoken_server(open_app, idp, backend_url):
    from drift_monitor import Client, Conflict

    with Client(url=backend_url, token=idp.user_token("carol")) as carol:
        try:
            carol.register()
        except Conflict:
            pass
    app = open_app()
    app.sidebar.radio(key="paste_kind").set_value("mytoken")
    app.sidebar.text_input(key="paste_secret").set_value(idp.mytoken("carol"))
    submit(app, "Use token")
    assert "Logged in as **carol@example.org**" in texts(app.sidebar.markdown)


def test_browser_login_shows_the_button_and_uses_the_exposed_access_token(open_app, world):
    auth = {"auth": {"server_metadata_url": "http://idp.invalid/.well-known/openid-configuration",
                     "client_id": "dashboard", "client_secret": "x", "redirect_uri": "http://localhost/oauth2callback",
                     "cookie_secret": "y" * 32, "expose_tokens": ["access"]}}
    app = open_app(secrets=auth)
    assert "Log in" in [button.label for button in app.sidebar.button]

    app = open_app(secrets=auth, user={"is_logged_in": True, "email": world["owner"].email, "sub": "s",
                                       "tokens": {"access": world["owner"].token}})
    assert f"Logged in as **{world['owner'].email}**" in texts(app.sidebar.markdown)
    assert world["private"]["name"] in listed(app)
    assert "Log in" not in [button.label for button in app.sidebar.button]
    assert "Log out" in [button.label for button in app.sidebar.button]


def test_an_unregistered_user_registers_then_creates_an_experiment(open_app, make_person):
    newcomer = make_person(register=False)
    app = open_app(person=newcomer)
    assert any("not registered" in text for text in texts(app.warning))
    assert [button.disabled for button in app.get("form_submit_button")] == [True]  # "Create"
    app.button(key="register").click().run()
    assert not any("not registered" in text for text in texts(app.warning))
    name = f"created-{uuid.uuid4().hex[:8]}"
    app.text_input(key="new_experiment_name").set_value(name)
    app.text_area(key="new_experiment_description").set_value("made in the dashboard")
    submit(app, "Create")
    assert any(name in text for text in texts(app.success))
    assert name in listed(app)
    assert newcomer.api.find_experiment(name)["description"] == "made in the dashboard"


def test_an_expired_token_says_so_and_offers_to_log_in_again(open_app, make_person):
    expired = make_person(register=False, expires_in=-60)
    app = open_app(person=expired)
    assert any("expired" in text for text in texts(app.sidebar.warning))
    [again] = [button for button in app.sidebar.button if button.label == "Log in again"]
    again.click().run()
    assert "pasted_credentials" not in app.session_state
    assert "Not logged in: you see public experiments only." in texts(app.sidebar.caption)


def test_an_unreachable_api_names_the_url_tried(open_app, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DRIFT_MONITOR_URL", url)
    app = open_app()
    [error] = texts(app.error)
    assert f"Cannot reach the Drift Monitoring API at {url}" in error
    assert "DRIFT_MONITOR_URL" in error and "server is running" in error
