"""A user's session with the published drift-monitor client, run by the client's own venv python.

    DRIFT_MONITOR_URL=... DRIFT_MONITOR_MYTOKEN=... MYTOKEN_SERVER=... python client_scenario.py NAME

Only the client's public functions are called, in the order its documentation suggests. Every
HTTP exchange is recorded (method, service, path, status) by wrapping requests' Session.send, which
observes the traffic without changing it. The last line of stdout is a JSON summary; the exit
code is 1 when a step raised unexpectedly (the summary then names the last step done and the error).

Standard library, numpy and the client only: this runs outside the project's environment.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import traceback
from urllib.parse import urlsplit

import numpy
import requests

TRANSCRIPT: list[dict] = []
_SERVICES = {"backend": os.environ["DRIFT_MONITOR_URL"].rstrip("/"), "idp": os.environ["MYTOKEN_SERVER"].rstrip("/")}
_original_send = requests.Session.send


def _recording_send(self, request, **kwargs):
    response = _original_send(self, request, **kwargs)
    parts = urlsplit(request.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    service = next((name for name, base in _SERVICES.items() if base == origin), origin)
    TRANSCRIPT.append({"method": request.method, "service": service, "path": parts.path, "query": parts.query,
                       "status": response.status_code})
    return response


requests.Session.send = _recording_send  # before the import: importing the client already calls the provider

import drift_monitor  # noqa: E402
from drift_monitor import DriftMonitor, config, queries  # noqa: E402


class DetectorCrash(RuntimeError):
    """Raised inside a DriftMonitor block, as a failing detector would."""


def plain(model) -> dict:
    """A client model object as JSON-ready data."""
    return json.loads(json.dumps(vars(model), default=str))


def http_status(error: BaseException) -> int | None:
    while error is not None:
        if isinstance(error, requests.HTTPError) and error.response is not None:
            return error.response.status_code
        error = error.__cause__
    return None


def run(name: str, steps: dict) -> None:
    # Registration: the second call gets 409 and refreshes the user with PUT /user/self.
    drift_monitor.register(accept_terms=True)
    steps["register_first"] = "ok"
    drift_monitor.register(accept_terms=True)
    steps["register_again"] = "ok"
    steps["self_user"] = plain(queries.self_user())
    steps["token_claims"] = {key: config.access_token.info.get(key) for key in ("iss", "sub", "aud", "exp")}

    steps["entitlements"] = queries.get_entitlements()

    experiment = drift_monitor.new_experiment(name, "desc", public=False)
    steps["new_experiment"] = plain(experiment)
    try:
        drift_monitor.new_experiment(name, "desc", public=False)
        steps["duplicate_experiment"] = {"raised": None}
    except ValueError as error:
        steps["duplicate_experiment"] = {"raised": type(error).__name__, "message": str(error),
                                         "status": http_status(error)}

    steps["find_experiment"] = plain(drift_monitor.find_experiment(name))
    found, pagination = queries.search_experiment({"name": name})
    steps["search_experiment"] = {"names": [item.name for item in found], "x_pagination": pagination}

    # A detection that completes.
    with DriftMonitor(name, "model_1", tags=["compat"]) as monitor:
        monitor(True, {"p_value": numpy.float64(0.01), "arr": numpy.array([1, 2])})
    steps["completed_run"] = plain(monitor._drift)  # the server's answer to the final PUT

    # A detection whose detector raises: the run is marked Failed and the exception goes on.
    failing = None
    try:
        with DriftMonitor(name, "model_1", tags=["compat", "failure"]) as failing:
            failing(False, {"statistic": numpy.float32(0.5), "nested": {"n": numpy.int64(3)},
                            "flags": [numpy.bool_(True), numpy.bool_(False)]})
            raise DetectorCrash("detector crashed")
    except DetectorCrash as crash:
        steps["failed_run"] = {"propagated": True, "message": str(crash), "drift": plain(failing._drift)}
    else:
        steps["failed_run"] = {"propagated": False}

    experiment_ref = {"id": experiment.id}  # search_drift and delete_drift index the experiment like a dict
    runs, pagination = queries.search_drift(experiment_ref, {})
    steps["search_drift"] = {"runs": [plain(run) for run in runs], "x_pagination": pagination}
    runs, pagination = queries.search_drift(experiment_ref, {"job_status": "Failed"})
    steps["search_drift_failed"] = {"ids": [run.id for run in runs], "x_pagination": pagination}
    runs, pagination = queries.search_drift(experiment_ref, {"tags": "compat"}, page=2, page_size=1)
    steps["search_drift_page_2"] = {"ids": [run.id for run in runs], "x_pagination": pagination}
    steps["get_drift"] = plain(queries.get_drift(experiment, steps["completed_run"]["id"]))

    # Read, change and write back the experiment the server returned.
    stored = queries.get_experiment(experiment.id)
    steps["get_experiment"] = plain(stored)
    stored.description = "changed by the published client"
    steps["put_experiment"] = plain(queries.put_experiment(stored))

    # Deletions, on an experiment of their own so the runs above stay for the checks.
    scratch = drift_monitor.new_experiment(f"{name}-scratch", "to be deleted")
    with DriftMonitor(scratch.name, "model_2") as scratch_monitor:
        scratch_monitor(False, {})
    scratch_run = scratch_monitor._drift
    queries.delete_drift({"id": scratch.id}, scratch_run.id)
    remaining, _ = queries.search_drift({"id": scratch.id}, {})
    queries.delete_experiment(scratch.id)
    try:
        queries.get_experiment(scratch.id)
        after_delete = 200
    except requests.HTTPError as error:
        after_delete = error.response.status_code
    steps["deletions"] = {"experiment_id": scratch.id, "run_id": scratch_run.id,
                          "runs_after_delete_drift": len(remaining), "get_after_delete_experiment": after_delete}


def main() -> int:
    summary = {"client_version": importlib.metadata.version("drift-monitor"), "steps": {},
               "transcript": TRANSCRIPT, "error": None}
    try:
        run(sys.argv[1], summary["steps"])
    except Exception as error:  # reported in the summary, for the test's failure message
        response = getattr(error, "response", None)
        summary["error"] = {
            "last_completed_step": next(reversed(summary["steps"]), None),
            "type": type(error).__name__,
            "message": str(error),
            "response_body": response.text[:2000] if response is not None else None,
            "traceback": traceback.format_exc(),
        }
    print(json.dumps(summary, default=str))
    return 1 if summary["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
