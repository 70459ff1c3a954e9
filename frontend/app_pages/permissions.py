"""Permissions of an experiment: who may read, edit or manage it, and whether it is public (Manage only)."""

import streamlit as st
from drift_monitor import DriftMonitorError

from dashboard import api, state, tables, ui

LEVELS = ["Read", "Edit", "Manage"]

view = state.view()
experiment_id = ui.need_experiment(view)
client, key, login = state.client(), state.cache_key(), state.current_login()

experiment = api.experiment(key, client, experiment_id)
ui.experiment_header(experiment, "Permissions")

# The API shows the permission list to the experiment's managers only.
if "permissions" not in experiment:
    if login.anonymous:
        st.info("Only the experiment's managers see and change its permissions. Log in (sidebar) if you are one.",
                icon=":material/login:")
    else:
        st.warning("You need Manage permission on this experiment to see or change who has access. "
                   "Ask one of its managers to grant it to you.", icon=":material/lock:")
    st.stop()

if notice := st.session_state.pop("permissions_notice", None):
    st.success(ui.plain(notice), icon=":material/check_circle:")

permissions = list(experiment["permissions"])
person = state.who()
st.dataframe(tables.permissions_frame(permissions, own_entities=[person.user_id] if person else []),
             hide_index=True, key="permissions_table",
             column_config={"entity": "Entity", "level": "Level", "you": st.column_config.CheckboxColumn("You")})
st.caption("An entity is a user id (each user sees theirs in the sidebar) or an entitlement (group) of the "
           "identity provider. Read shows the experiment and its runs, Edit also reports runs, Manage also "
           "changes permissions and deletes. At least one entity must keep Manage.")


def save(notice: str, **fields) -> None:
    try:
        client.update_experiment(experiment_id, **fields)
    except DriftMonitorError as error:
        ui.show_error(error)
        return
    state.data_changed()
    st.session_state["permissions_notice"] = notice
    st.rerun()


entities = [permission["entity"] for permission in permissions]
add_column, change_column = st.columns(2)
with add_column.form("add_permission", clear_on_submit=True):
    st.markdown("**Add a permission**")
    new_entity = st.text_input("Entity", key="new_entity", placeholder="a user id or an entitlement")
    new_level = st.radio("Level", LEVELS, horizontal=True, key="new_level")
    adding = st.form_submit_button("Add permission", type="primary")
with change_column.form("change_permission"):
    st.markdown("**Change or remove a permission**")
    entity = st.selectbox("Entity", entities, index=None, key="change_entity", placeholder="choose one")
    level = st.radio("Level", LEVELS, horizontal=True, key="change_level")
    left, right = st.columns(2)
    changing = left.form_submit_button("Change level")
    removing = right.form_submit_button("Remove permission")
with st.form("visibility"):
    public = st.checkbox("Public: anyone may read this experiment and its runs, even without logging in",
                         value=bool(experiment.get("public")), key="public_flag")
    publishing = st.form_submit_button("Save visibility")


def with_level(entity: str, level: str) -> list[dict]:
    """The permissions with ``entity`` at ``level``, in place if it had one."""
    wanted = {"entity": entity, "level": level}
    if entity in entities:
        return [wanted if permission["entity"] == entity else permission for permission in permissions]
    return [*permissions, wanted]


if adding:
    if not new_entity.strip():
        st.error("Type the user id or entitlement to grant the permission to.")
    else:
        verb = "changed" if new_entity.strip() in entities else "added"
        save(f"Permission {verb}: {new_entity.strip()} now holds {new_level}.",
             permissions=with_level(new_entity.strip(), new_level))
if (changing or removing) and not entity:
    st.error("Choose the entity whose permission to change or remove.")
elif changing:
    save(f"Permission changed: {entity} now holds {level}.", permissions=with_level(entity, level))
elif removing:
    save(f"Permission removed: {entity}.", permissions=[p for p in permissions if p["entity"] != entity])
if publishing and public != bool(experiment.get("public")):
    save("The experiment is now " + ("public." if public else "private."), public=public)
