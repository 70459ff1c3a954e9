"""The dashboard in a real browser: log in at the identity provider, open an experiment's overview."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
from dashboard_page import WINDOW, DashboardPage, missing_browser, set_viewport
from drift_monitor import Client

from sandbox.demo_data import DEMO_USERS, load_demo_data

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_ROOT / "docs" / "dashboard.png"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(missing_browser() is not None, reason=f"dashboard browser test: {missing_browser()}"),
]


def seed_experiment(backend_url: str, token: str) -> str:
    """One experiment of alice's with a week of runs shaped like detector output; its id."""
    client = Client(url=backend_url, token=token)
    client.register()
    experiment = client.create_experiment(f"e2e-{uuid.uuid4().hex[:8]}", description="browser test")
    now = dt.datetime.now(dt.timezone.utc)
    features = ("age", "income", "tenure")
    for day in range(7, 0, -1):
        for index, model in enumerate(("scorer-v1", "scorer-v2")):
            drifting = day <= 2 and model == "scorer-v2"
            per_feature = {name: {"statistic": 0.31 if drifting else 0.04, "p_value": 0.001 if drifting else 0.6,
                                  "drift": drifting} for name in features}
            client.create_drift(experiment, model=model, job_status="Completed", tags=["e2e"],
                                parameters={"n_current": 1000 + 10 * day},
                                data_drift={"drift": drifting, "parameters": per_feature},
                                created_at=now - dt.timedelta(days=day, hours=index))
    client.create_drift(experiment, model="scorer-v1", job_status="Failed", created_at=now - dt.timedelta(hours=5))
    client.create_drift(experiment, model="scorer-v2", job_status="Running", created_at=now - dt.timedelta(hours=1))
    client.close()
    return experiment.id


def test_alice_logs_in_and_sees_the_drift_timeline_of_her_experiment(dashboard, dashboard_idp, backend_url,
                                                                       chromium, tmp_path):
    experiment_id = seed_experiment(backend_url, dashboard_idp.user_token("alice"))
    page = DashboardPage(chromium, dashboard.url)
    try:
        page.open("/")
        page.log_in("alice")

        page.open(f"/overview?experiment={experiment_id}")
        title = page.wait_for_chart("Drift timeline")
        page.wait_until_idle()
        assert "Drift timeline" in title
        assert page.errors() == []
        sidebar = page.sidebar_text()
        assert "Logged in as" in sidebar and "alice" in sidebar.lower(), sidebar
    except BaseException:
        chromium.save_screenshot(str(tmp_path / "failure.png"))
        print(f"screenshot: {tmp_path / 'failure.png'}\ndashboard: {dashboard.process.log_tail(40)}")
        raise

    assert chromium.save_screenshot(str(tmp_path / "dashboard.png"))
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        update_docs_screenshot(page, dashboard_idp, backend_url)


def update_docs_screenshot(page: DashboardPage, idp, backend_url: str) -> None:
    """docs/dashboard.png, shown in the README: the overview of the demo's credit-scoring experiment."""
    demo = load_demo_data(backend_url, {name: idp.user_token(name) for name in DEMO_USERS})
    page.open(f"/overview?experiment={demo.experiments['credit-scoring']}")
    # Tall enough for the figures, the whole drift timeline and the job status chart under it.
    set_viewport(page.driver, WINDOW[0], 1300)
    page.wait_for_chart("Drift timeline")
    page.wait_until_idle()
    assert page.errors() == []
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert page.driver.save_screenshot(str(SCREENSHOT))
