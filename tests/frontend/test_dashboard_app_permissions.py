"""Permissions page and empty states against a real backend whose experiments are all private."""

from __future__ import annotations

import uuid

import pytest


def texts(elements) -> list[str]:
    return [element.value for element in elements]


@pytest.fixture(scope="module")
def world(make_person):
    manager, reader, colleague = make_person(), make_person(), make_person()
    experiment = manager.api.create_experiment(f"managed-{uuid.uuid4().hex[:8]}",
                                               permissions={reader.id: "Read"})
    return {"manager": manager, "reader": reader, "colleague": colleague, "experiment": experiment}


def submit(app, label: str):
    [button] = [button for button in app.get("form_submit_button") if button.label == label]
    return button.click().run()


def table(app, column: str):
    """The page's table that has ``column`` (st.dataframe keeps no key without selections)."""
    [frame] = [element.value for element in app.dataframe if column in element.value.columns]
    return frame


def permissions_table(app) -> dict[str, str]:
    frame = table(app, "entity")
    return dict(zip(frame["entity"], frame["level"], strict=True))


def test_nothing_visible_yet(open_app, make_person, world):
    assert any("Nothing public here yet" in text for text in texts(open_app().info))
    newcomer = make_person()
    app = open_app(person=newcomer)
    assert any("No experiments yet. Create one below" in text for text in texts(app.info))
    assert app.expander[0].proto.expanded  # the create form is open, ready to use


def test_only_managers_see_the_permissions(open_app, world):
    query = {"experiment": world["experiment"]["id"]}
    app = open_app("permissions", world["reader"], query)
    assert any("You need Manage permission" in text for text in texts(app.warning))
    assert not app.get("form_submit_button")
    # Other pages work for a reader.
    app.switch_page("app_pages/overview.py").run()
    assert not app.error


def test_add_change_and_remove_a_permission(open_app, world):
    manager, colleague = world["manager"], world["colleague"]
    app = open_app("permissions", manager, {"experiment": world["experiment"]["id"]})
    assert permissions_table(app) == {world["reader"].id: "Read", manager.id: "Manage"}
    you = table(app, "entity").set_index("entity")["you"]
    assert you[manager.id] and not you[world["reader"].id]

    app.text_input(key="new_entity").set_value(colleague.id)
    app.radio(key="new_level").set_value("Edit")
    submit(app, "Add permission")
    assert any("Permission added" in text for text in texts(app.success))
    assert permissions_table(app)[colleague.id] == "Edit"

    app.selectbox(key="change_entity").set_value(colleague.id)
    app.radio(key="change_level").set_value("Manage")
    submit(app, "Change level")
    assert any("Permission changed" in text for text in texts(app.success))
    assert permissions_table(app)[colleague.id] == "Manage"
    assert {p["entity"]: p["level"] for p in manager.api.get_experiment(world["experiment"])["permissions"]}[
        colleague.id] == "Manage"

    app.selectbox(key="change_entity").set_value(colleague.id)
    submit(app, "Remove permission")
    assert any("Permission removed" in text for text in texts(app.success))
    assert colleague.id not in permissions_table(app)

    # The colleague cannot open the private experiment any more.
    [error] = texts(open_app("overview", colleague, {"experiment": world["experiment"]["id"]}).error)
    assert "Not found, or you have no access" in error


def test_the_last_manager_cannot_be_removed(open_app, world):
    manager = world["manager"]
    app = open_app("permissions", manager, {"experiment": world["experiment"]["id"]})
    app.selectbox(key="change_entity").set_value(manager.id)
    submit(app, "Remove permission")
    [error] = texts(app.error)
    assert "at least one entity must keep Manage permission" in error
    assert permissions_table(app)[manager.id] == "Manage"


def test_make_an_experiment_public_and_private_again(open_app, world):
    manager = world["manager"]
    experiment = manager.api.create_experiment(f"to-publish-{uuid.uuid4().hex[:8]}")
    app = open_app("permissions", manager, {"experiment": experiment["id"]})
    app.checkbox(key="public_flag").check()
    submit(app, "Save visibility")
    assert any("now public" in text for text in texts(app.success))
    assert manager.api.get_experiment(experiment)["public"] is True
    assert not texts(open_app("overview", None, {"experiment": experiment["id"]}).error)

    app.checkbox(key="public_flag").uncheck()
    submit(app, "Save visibility")
    assert any("now private" in text for text in texts(app.success))
    assert manager.api.get_experiment(experiment)["public"] is False
