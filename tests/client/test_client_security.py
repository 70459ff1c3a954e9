"""Security of the client (issue 11): names resolve to your own experiments only, clear-text URLs
warn, and the MyToken server is read from its documented variable.

The squatter story: bob creates an experiment named like alice's (future) one and grants her Edit,
hoping that her jobs, which name their experiment, report to his. Everything runs against the real
backend with real sandbox tokens.
"""

from __future__ import annotations

import logging
import uuid
import warnings

import drift_monitor
import pytest
from drift_monitor import (
    Client,
    DriftMonitor,
    ExperimentNotFound,
    ExperimentNotOwned,
    InsecureTransportWarning,
    Settings,
)
from drift_monitor._cli import main as cli_main
from urllib3.util import Retry

from factories import USERS_GROUP

#: Fail over at once in the tests that make the server (proxy) fail; as in conftest, not imported from it
#: because another test folder's conftest may own that module name.
NO_RETRY = Retry(total=0, raise_on_status=False)


@pytest.fixture
def bob(backend_url, idp, spool_dir):
    sub = str(uuid.uuid4())
    client = Client(url=backend_url, token=idp.token(sub, email=f"{sub[:8]}@example.org",
                                                     entitlements=[USERS_GROUP]), spool_dir=spool_dir)
    client.register()
    yield client
    client.close()


@pytest.fixture
def squatted(api, bob):
    """A name bob took first, with Edit granted to alice (``api``): (name, bob's experiment)."""
    name = f"churn-{uuid.uuid4().hex[:8]}"
    alice_id = api.get_self()["id"]
    trap = bob.create_experiment(name, "looks like alice's", permissions=[{"entity": alice_id, "level": "Edit"}])
    assert trap["owner"] == bob.get_self()["id"]
    return name, trap


def runs_of(client: Client, experiment) -> list:
    return client.get_drifts(experiment)


# Name resolution --------------------------------------------------------------------------

def test_a_squatted_name_is_refused_with_the_id_to_pass_and_nothing_is_posted(api, bob, squatted, spool_dir):
    name, trap = squatted
    with pytest.raises(ExperimentNotOwned) as raised:
        with DriftMonitor(name, "model-1", client=api):
            pytest.fail("the block must not run")
    error = raised.value
    assert isinstance(error, ExperimentNotFound)  # handlers of 1.x/2.0 still catch it
    assert error.experiment_ids == [trap["id"]]
    assert "experiment_id=" in str(error) and trap["id"] in str(error)
    assert runs_of(bob, trap) == []
    assert not spool_dir.exists() or not list(spool_dir.glob("*.json"))


def test_find_experiment_refuses_a_name_only_others_own(api, squatted):
    name, _ = squatted
    with pytest.raises(ExperimentNotOwned, match="is yours"):
        api.find_experiment(name)
    with pytest.raises(ExperimentNotOwned):
        drift_monitor.find_experiment(name, client=api)


def test_the_shared_experiment_works_when_passed_by_id(api, bob, squatted):
    _, trap = squatted
    with DriftMonitor(model="model-1", experiment_id=trap["id"], client=api) as monitor:
        monitor.data(False, {"psi": 0.01})
    stored = runs_of(bob, trap)
    assert [run["id"] for run in stored] == [monitor.run_id]
    assert stored[0]["job_status"] == "Completed"


def test_an_experiment_mapping_from_get_experiment_is_used_as_is(api, bob, squatted):
    _, trap = squatted
    with DriftMonitor(api.get_experiment(trap["id"]), "model-1", client=api) as monitor:
        pass
    assert [run["id"] for run in runs_of(bob, trap)] == [monitor.run_id]


def test_your_own_experiment_of_the_same_name_is_found_and_gets_the_run(api, bob, squatted):
    name, trap = squatted
    own = api.create_experiment(name, "alice's own")  # names are unique per owner, so this is allowed
    assert own["id"] != trap["id"]
    assert api.find_experiment(name)["id"] == own["id"]
    with DriftMonitor(name, "model-1", client=api) as monitor:
        monitor(True, {"p": 0.01})
    assert [run["id"] for run in runs_of(api, own)] == [monitor.run_id]
    assert runs_of(bob, trap) == []


def test_a_name_and_an_id_together_are_refused(api):
    with pytest.raises(TypeError, match="not both"):
        DriftMonitor("x", "model-1", experiment_id="y", client=api)


def test_the_user_id_is_asked_once_per_client(api, squatted, proxy, user_token):
    name, _ = squatted
    own = api.create_experiment(name, "alice's own")
    client = Client(url=proxy.url, token=user_token, retry=NO_RETRY)
    for _ in range(3):
        assert client.find_experiment(name)["id"] == own["id"]
    assert [path for method, path, _ in proxy.requests if path.endswith("/user/self")] == ["/api/v1/user/self"]


def test_a_spooled_run_is_not_replayed_to_a_squatter_who_took_the_name_meanwhile(api, bob, proxy, user_token,
                                                                                spool_dir, idp):
    """The lookup failed (server trouble), so the run was spooled under its name; by the time it is
    sent, bob owns that name. The replay resolves it among alice's experiments only: refused, kept."""
    name = f"later-{uuid.uuid4().hex[:8]}"
    flaky = Client(url=proxy.url, token=user_token, retry=NO_RETRY, spool_dir=spool_dir)
    proxy.fail_next = 1  # the experiment search
    with DriftMonitor(name, "model-1", client=flaky) as monitor:
        monitor.data(True, {"psi": 0.5})
    assert monitor.spooled
    trap = bob.create_experiment(name, "squat", permissions=[{"entity": api.get_self()["id"], "level": "Edit"}])

    result = drift_monitor.sync(client=api)
    assert (result.uploaded, result.rejected, result.remaining) == (0, 2, 0)
    assert runs_of(bob, trap) == []
    assert len(list((spool_dir / "rejected").glob("*.json"))) == 2


def test_a_spooled_run_with_a_resolved_id_is_replayed_to_that_id(api, experiment, proxy, user_token, spool_dir):
    flaky = Client(url=proxy.url, token=user_token, retry=NO_RETRY, spool_dir=spool_dir)
    with DriftMonitor(experiment_id=experiment["id"], model="model-1", client=flaky) as monitor:
        proxy.fail_next = 10  # the final PUT
    assert monitor.spooled
    records = [path.read_text() for path in spool_dir.glob("*.json")]
    assert records and all(experiment["id"] in text for text in records)
    proxy.fail_next = 0
    assert drift_monitor.sync(client=api).uploaded == 1
    assert api.get_drift(experiment, monitor.run_id)["job_status"] == "Completed"


def test_the_cli_refuses_a_squatted_name_and_accepts_the_id(api, squatted, backend_url, user_token, capsys):
    name, trap = squatted
    assert cli_main(["--url", backend_url, "--token", user_token, "drifts", "list", name]) == 1
    assert "is yours" in capsys.readouterr().err
    assert cli_main(["--url", backend_url, "--token", user_token, "drifts", "list", trap["id"]]) == 0


# Clear-text transport ------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://drift.example.org", "http://10.1.2.3:5000/", "HTTP://Drift.Example.org"])
def test_http_to_another_host_warns_and_logs(url, caplog):
    unique = url + f"#{uuid.uuid4().hex[:6]}"  # the log line is once per URL and process
    with caplog.at_level(logging.WARNING, logger="drift_monitor"):
        with pytest.warns(InsecureTransportWarning, match="unencrypted"):
            Client(url=unique, token="t")
    assert any("unencrypted" in record.getMessage() for record in caplog.records)


def test_http_from_the_environment_warns_too(monkeypatch):
    monkeypatch.setenv("DRIFT_MONITOR_URL", f"http://drift-{uuid.uuid4().hex[:6]}.example.org")
    with pytest.warns(InsecureTransportWarning):
        drift_monitor.default_client()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2", "api.localhost"])
def test_loopback_and_https_do_not_warn(host):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureTransportWarning)
        Client(url=f"http://{host}:5000", token="t")
        Client(url="https://drift.example.org", token="t")


def test_the_live_local_server_is_used_without_a_warning(api, backend_url, user_token):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureTransportWarning)
        assert Client(url=backend_url, token=user_token).get_self()["id"] == api.get_self()["id"]


# MyToken server variable -------------------------------------------------------------------

@pytest.mark.parametrize("variable", ["DRIFT_MONITOR_MYTOKEN_SERVER", "MYTOKEN_SERVER"])
def test_both_mytoken_server_variables_exchange_a_real_mytoken(variable, monkeypatch, idp, backend_url):
    monkeypatch.setenv("DRIFT_MONITOR_URL", backend_url)
    monkeypatch.setenv("DRIFT_MONITOR_MYTOKEN", idp.mytoken("carol"))
    monkeypatch.setenv(variable, idp.issuer)
    client = Client()
    assert client.settings.mytoken_server == idp.issuer
    user = drift_monitor.register(accept_terms=True, client=client)  # the token was exchanged at idp.issuer
    assert user["id"] == client.self_id()


def test_the_prefixed_mytoken_server_variable_wins_over_the_legacy_one():
    both = {"DRIFT_MONITOR_MYTOKEN_SERVER": "https://new.example", "MYTOKEN_SERVER": "https://old.example"}
    assert Settings.resolve(both).mytoken_server == "https://new.example"
    assert Settings.resolve({"MYTOKEN_SERVER": "https://old.example"}).mytoken_server == "https://old.example"
    assert Settings.resolve({}).mytoken_server == "https://mytok.eu"
    assert Settings.resolve(both, mytoken_server="https://arg.example").mytoken_server == "https://arg.example"


def test_an_unreachable_mytoken_server_names_the_variable(monkeypatch, idp, backend_url):
    client = Client(url=backend_url, mytoken=idp.mytoken("carol"), mytoken_server="http://127.0.0.1:9", retry=NO_RETRY)
    with pytest.raises(drift_monitor.TransportError, match="DRIFT_MONITOR_MYTOKEN_SERVER"):
        client.get_self()
