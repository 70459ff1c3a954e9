"""Demo data for a local stack, loaded through the HTTP API like any client would.

``load_demo_data(base_url, tokens)`` registers the sandbox users alice, bob, carol and
admin, creates four experiments with different visibility and permissions, and reports a
few hundred drift runs shaped like real detector output:

* ``credit-scoring`` (public; alice Manage, group team-b Read): daily batch scoring whose
  input data drifts more and more over the two months (the dashboard's story), with a
  model upgrade half-way and a shadow baseline model;
* ``churn-weekly`` (private; bob Manage, alice Edit): weekly runs of three models with
  concept drift results, and a seasonal bump;
* ``fraud-realtime`` (private; alice Manage): twice a day, a holiday spike and a data
  pipeline incident (with failed runs);
* ``image-quality`` (public; carol Manage): a new camera model shifts the images until
  the reference set is refreshed.

Each run describes an observation window, ``parameters.window_start``/``window_end``
(ISO 8601, UTC), spread over the 60 days before the experiment was created; the run is
imported with ``created_at`` set to the end of its window, so the history looks as it would
had the jobs reported as they ran.

Loading is idempotent. Runs carry client-generated ids (``uuid5`` of a fixed namespace, the
experiment name and the run's index) and content that depends only on a fixed seed and the
experiment's ``created_at``, so a replay is answered 200 and never duplicates. When every
demo experiment already exists with at least its planned number of runs, nothing is sent at
all (``DemoSummary.skipped``); an interrupted load is completed by the next call. Runs that
were changed since are left as they are.

    python -m sandbox.demo_data --url http://127.0.0.1:5000 --issuer http://127.0.0.1:5001
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests

API = "/api/v1"
#: Seconds any single request may take.
REQUEST_TIMEOUT = 15.0
SEED = 20261122
#: Run ids are uuid5(RUN_ID_NAMESPACE, "<experiment name>/<index>").
RUN_ID_NAMESPACE = uuid.UUID("5b0f7c1e-2d4a-4f6b-9c3e-8a1d2e3f4a5b")
DAYS = 60
DEMO_USERS = ("alice", "bob", "carol", "admin")
TEAM_B = "urn:example:drift-monitor:team-b"

# Detector settings written into every data-drift result.
ALPHA = 0.05  # family-wise level of the p-value tests, after Benjamini-Hochberg
PSI_THRESHOLD = 0.2  # a feature drifts when its population stability index exceeds this
DRIFT_SHARE_THRESHOLD = 0.25  # the dataset drifts when this share of its features drifts


class DemoDataError(RuntimeError):
    """The API refused or failed a demo-data request; the message says which and why."""


# --------------------------------------------------------------------------------------
# What to load
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    name: str
    test: str  # "ks" | "psi" | "chi2"
    categories: int = 0  # chi2 only
    sensitivity: float = 1.0  # how strongly the experiment's drift moves this feature


@dataclass(frozen=True)
class Stream:
    """The runs of one reporting job: a model (versions over time) on a fixed cadence."""

    models: tuple[tuple[int, str], ...]  # (from N days ago, model name), oldest first
    every_hours: int
    tags: tuple[str, ...]
    concept_every: int = 0  # every n-th run also reports concept drift; 0: never
    reference_accuracy: float = 0.9
    running_latest: bool = False  # the newest run is still Running
    failure_rate: float = 0.04
    reporter: str | None = None  # who posts the runs; default the experiment's owner
    start_days_ago: int = DAYS

    def model_at(self, days_ago: float) -> str:
        current = self.models[0][1]
        for since, model in self.models:
            if days_ago <= since:
                current = model
        return current


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    description: str
    owner: str
    public: bool
    grants: tuple[tuple[str, str], ...]  # (username or group, level), besides the owner's Manage
    features: tuple[Feature, ...]
    streams: tuple[Stream, ...]
    #: drift intensity in [0, 1] of a feature, n days ago
    intensity: Callable[[float, Feature], float]
    #: accuracy lost, n days ago
    accuracy_drop: Callable[[float], float]
    reference_dataset: str
    n_reference: int
    n_current: int
    failures: tuple[str, ...]


def _credit_intensity(days_ago: float, feature: Feature) -> float:
    # Quiet for two weeks, then a steady rise: applicants' incomes and debts move away
    # from the training data.
    progress = max(0.0, (DAYS - 14 - days_ago) / (DAYS - 14))
    return progress**1.4 * feature.sensitivity


def _credit_accuracy_drop(days_ago: float) -> float:
    return 0.07 * max(0.0, (DAYS - 14 - days_ago) / (DAYS - 14)) ** 1.6


def _churn_intensity(days_ago: float, feature: Feature) -> float:
    # A summer promotion changes who signs up for about two weeks.
    return (0.55 if 24 <= days_ago <= 38 else 0.05) * feature.sensitivity


def _churn_accuracy_drop(days_ago: float) -> float:
    return 0.035 if 24 <= days_ago <= 38 else 0.0


def _fraud_intensity(days_ago: float, feature: Feature) -> float:
    if 41 <= days_ago <= 43.5 and feature.name in ("amount", "merchant_category", "hour_of_day"):
        return 0.8  # holiday weekend shopping
    if 14.5 <= days_ago <= 15.5:
        return 0.9  # a broken upstream join scrambled most columns
    return 0.04 * feature.sensitivity


def _fraud_accuracy_drop(days_ago: float) -> float:
    return 0.03 if 41 <= days_ago <= 43.5 else 0.0


def _image_intensity(days_ago: float, feature: Feature) -> float:
    # New cameras from 32 days ago; the reference set was refreshed 18 days ago.
    return (0.7 if 18 < days_ago <= 32 else 0.05) * feature.sensitivity


def _no_accuracy_drop(days_ago: float) -> float:
    return 0.0


EXPERIMENTS: tuple[ExperimentSpec, ...] = (
    ExperimentSpec(
        name="credit-scoring",
        description="Daily batch scoring of loan applications; input drift rising since the rate change.",
        owner="alice",
        public=True,
        grants=((TEAM_B, "Read"),),
        features=(
            Feature("income", "ks", sensitivity=1.0),
            Feature("age", "ks", sensitivity=0.05),
            Feature("debt_to_income", "psi", sensitivity=0.95),
            Feature("credit_utilization", "psi", sensitivity=0.8),
            Feature("num_open_accounts", "ks", sensitivity=0.45),
            Feature("employment_type", "chi2", categories=6, sensitivity=0.6),
            Feature("region", "chi2", categories=9, sensitivity=0.1),
            Feature("loan_purpose", "chi2", categories=7, sensitivity=0.35),
        ),
        streams=(
            Stream(models=((DAYS, "xgb-v3"), (25, "xgb-v4")), every_hours=24,
                   tags=("production", "daily", "batch"), concept_every=7, reference_accuracy=0.874,
                   running_latest=True),
            Stream(models=((DAYS, "logreg-baseline"),), every_hours=48, tags=("shadow", "baseline"),
                   reference_accuracy=0.831, failure_rate=0.03),
        ),
        intensity=_credit_intensity,
        accuracy_drop=_credit_accuracy_drop,
        reference_dataset="loans-2026-q2-train",
        n_reference=20000,
        n_current=4200,
        failures=("feature store timeout after 300 s", "reference dataset snapshot missing"),
    ),
    ExperimentSpec(
        name="churn-weekly",
        description="Weekly churn model evaluation on the last week's customers.",
        owner="bob",
        public=False,
        grants=(("alice", "Edit"),),
        features=(
            Feature("tenure_months", "ks", sensitivity=0.9),
            Feature("monthly_charges", "ks", sensitivity=1.0),
            Feature("contract_type", "chi2", categories=3, sensitivity=0.8),
            Feature("support_calls", "psi", sensitivity=0.4),
            Feature("payment_method", "chi2", categories=4, sensitivity=0.2),
            Feature("n_products", "psi", sensitivity=0.6),
        ),
        streams=(
            Stream(models=((DAYS, "churn-gbm-v2"),), every_hours=24 * 7, tags=("weekly", "production"),
                   concept_every=1, reference_accuracy=0.812, failure_rate=0.05),
            Stream(models=((DAYS, "churn-gbm-v3-rc"),), every_hours=24 * 7, tags=("weekly", "staging"),
                   concept_every=1, reference_accuracy=0.826, failure_rate=0.05),
            Stream(models=((DAYS, "churn-nn-v1"),), every_hours=24 * 7, tags=("weekly", "experiment"),
                   concept_every=1, reference_accuracy=0.803, running_latest=True, reporter="alice"),
        ),
        intensity=_churn_intensity,
        accuracy_drop=_churn_accuracy_drop,
        reference_dataset="customers-2026-h1",
        n_reference=12000,
        n_current=1800,
        failures=("labels not yet available for the window",),
    ),
    ExperimentSpec(
        name="fraud-realtime",
        description="Card-transaction fraud scoring, checked twice a day on the live stream.",
        owner="alice",
        public=False,
        grants=(),
        features=(
            Feature("amount", "ks", sensitivity=1.0),
            Feature("merchant_category", "chi2", categories=12, sensitivity=1.0),
            Feature("hour_of_day", "psi", sensitivity=0.5),
            Feature("device_type", "chi2", categories=4, sensitivity=0.3),
            Feature("country", "chi2", categories=15, sensitivity=0.3),
            Feature("velocity_1h", "ks", sensitivity=0.6),
            Feature("account_age_days", "ks", sensitivity=0.2),
        ),
        streams=(
            Stream(models=((DAYS, "fraud-lgbm-v7"),), every_hours=12, tags=("realtime", "production"),
                   concept_every=14, reference_accuracy=0.962, running_latest=True, failure_rate=0.03),
            Stream(models=((DAYS, "fraud-autoenc-v2"),), every_hours=48, tags=("realtime", "canary"),
                   reference_accuracy=0.948, failure_rate=0.05),
        ),
        intensity=_fraud_intensity,
        accuracy_drop=_fraud_accuracy_drop,
        reference_dataset="transactions-2026-09",
        n_reference=50000,
        n_current=9000,
        failures=("kafka consumer lag above 15 min", "schema mismatch: column 'mcc' missing",
                  "out of memory in the detector pod"),
    ),
    ExperimentSpec(
        name="image-quality",
        description="Quality control of product photos; new cameras were rolled out a month ago.",
        owner="carol",
        public=True,
        grants=(),
        features=(
            Feature("brightness", "ks", sensitivity=1.0),
            Feature("contrast", "ks", sensitivity=0.8),
            Feature("sharpness", "ks", sensitivity=0.5),
            Feature("aspect_ratio", "psi", sensitivity=0.2),
            Feature("camera_model", "chi2", categories=5, sensitivity=1.0),
            Feature("embedding_pc1", "ks", sensitivity=0.7),
            Feature("embedding_pc2", "ks", sensitivity=0.3),
        ),
        streams=(
            Stream(models=((DAYS, "resnet50-qc"),), every_hours=48, tags=("vision", "production"),
                   running_latest=True, failure_rate=0.04),
            Stream(models=((DAYS, "vit-small-qc"),), every_hours=48, tags=("vision", "candidate"),
                   failure_rate=0.04),
        ),
        intensity=_image_intensity,
        accuracy_drop=_no_accuracy_drop,
        reference_dataset="photos-reference-v5",
        n_reference=8000,
        n_current=1500,
        failures=("image bucket unreachable",),
    ),
)

DEMO_EXPERIMENT_NAMES = tuple(spec.name for spec in EXPERIMENTS)


# --------------------------------------------------------------------------------------
# Detector-like results
# --------------------------------------------------------------------------------------


def _ks_p_value(lam: float) -> float:
    """Asymptotic two-sample Kolmogorov-Smirnov p-value for sqrt(n_eff) * D = lam."""
    if lam < 0.2:
        return 1.0
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(1.0, max(0.0, 2 * total))


def _chi2_p_value(statistic: float, df: int) -> float:
    """Upper tail of the chi-square distribution (Wilson-Hilferty approximation)."""
    if statistic <= 0:
        return 1.0
    z = ((statistic / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 0.5 * math.erfc(z / math.sqrt(2))


def _significant(value: float) -> float:
    return float(f"{value:.4g}")


def _benjamini_hochberg(p_values: Mapping[str, float]) -> dict[str, float]:
    """Adjusted p-values (step-up, monotone)."""
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    count = len(ordered)
    adjusted: dict[str, float] = {}
    running_min = 1.0
    for rank in range(count, 0, -1):
        name, p_value = ordered[rank - 1]
        running_min = min(running_min, p_value * count / rank)
        adjusted[name] = running_min
    return adjusted


def data_drift_result(rng: random.Random, spec: ExperimentSpec, days_ago: float) -> dict:
    n_eff = spec.n_reference * spec.n_current / (spec.n_reference + spec.n_current)
    features: dict[str, dict] = {}
    p_values: dict[str, float] = {}
    for feature in spec.features:
        intensity = min(1.0, spec.intensity(days_ago, feature))
        if feature.test == "ks":
            lam = abs(rng.gauss(0.55, 0.3)) + intensity * 0.09 * math.sqrt(n_eff)
            p_value = _ks_p_value(lam)
            features[feature.name] = {"test": "ks", "statistic": round(lam / math.sqrt(n_eff), 4)}
            p_values[feature.name] = p_value
        elif feature.test == "chi2":
            df = feature.categories - 1
            statistic = max(0.05, df + rng.gauss(0, math.sqrt(2 * df))) + intensity * 0.004 * spec.n_current
            features[feature.name] = {"test": "chi2", "statistic": round(statistic, 3), "df": df}
            p_values[feature.name] = _chi2_p_value(statistic, df)
        else:
            psi = abs(rng.gauss(0.025, 0.015)) + intensity * 0.35 * rng.uniform(0.8, 1.2)
            features[feature.name] = {"test": "psi", "statistic": round(psi, 4), "threshold": PSI_THRESHOLD,
                                      "drifted": psi > PSI_THRESHOLD}
    adjusted = _benjamini_hochberg(p_values)
    for name, p_value in p_values.items():
        features[name].update(p_value=_significant(p_value), p_value_adjusted=_significant(adjusted[name]),
                              drifted=adjusted[name] <= ALPHA)
    drifted = sum(result["drifted"] for result in features.values())
    share = drifted / len(features)
    return {
        "drift": share >= DRIFT_SHARE_THRESHOLD,
        "parameters": {
            "drift_share": round(share, 4),
            "n_features": len(features),
            "n_drifted": drifted,
            "correction": "benjamini-hochberg",
            "alpha": ALPHA,
            "threshold": DRIFT_SHARE_THRESHOLD,
            "features": features,
        },
    }


def concept_drift_result(rng: random.Random, spec: ExperimentSpec, stream: Stream, days_ago: float) -> dict:
    reference = stream.reference_accuracy
    current = min(0.999, max(0.5, reference - spec.accuracy_drop(days_ago) + rng.gauss(0, 0.006)))
    n_labelled = max(300, spec.n_current // 2)
    delta = current - reference
    half_width = 1.96 * math.sqrt(current * (1 - current) / n_labelled + reference * (1 - reference) / spec.n_reference)
    ci_low, ci_high = delta - half_width, delta + half_width
    return {
        "drift": ci_high < 0,  # accuracy significantly below the reference
        "parameters": {
            "metric": "accuracy",
            "reference": round(reference, 4),
            "current": round(current, 4),
            "delta": round(delta, 4),
            "ci_low": round(ci_low, 4),
            "ci_high": round(ci_high, 4),
            "confidence": 0.95,
            "n_labelled": n_labelled,
        },
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PlannedRun:
    id: str
    reporter: str
    body: dict


def plan_runs(spec: ExperimentSpec, anchor: datetime) -> list[PlannedRun]:
    """The runs of an experiment, oldest window first; windows end at or before ``anchor``'s day.

    Depends only on the seed, the spec and the UTC day of ``anchor`` (the experiment's
    ``created_at``), so a replay produces identical bodies.
    """
    rng = random.Random(f"{SEED}/{spec.name}")
    day = anchor.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    slots: list[tuple[datetime, int, Stream, int]] = []
    for stream_index, stream in enumerate(spec.streams):
        count = stream.start_days_ago * 24 // stream.every_hours
        for k in range(count):  # k windows back from the newest
            slots.append((day - timedelta(hours=k * stream.every_hours), stream_index, stream, k))
    slots.sort(key=lambda slot: (slot[0], slot[1]))

    runs: list[PlannedRun] = []
    concept_counters = [0] * len(spec.streams)
    for index, (window_end, stream_index, stream, k) in enumerate(slots):
        window_start = window_end - timedelta(hours=stream.every_hours)
        days_ago = (day - window_end).total_seconds() / 86400
        parameters = {
            "window_start": _iso(window_start),
            "window_end": _iso(window_end),
            "reference_dataset": spec.reference_dataset,
            "n_reference": spec.n_reference,
            "n_current": max(100, int(spec.n_current * rng.uniform(0.85, 1.15))),
        }
        body = {"model": stream.model_at(days_ago), "tags": list(stream.tags), "parameters": parameters,
                "created_at": _iso(window_end)}
        failed = rng.random() < stream.failure_rate or (spec.name == "fraud-realtime" and 14.4 <= days_ago <= 14.6)
        if k == 0 and stream.running_latest:
            body.update(job_status="Running", drift_detected=False)
        elif failed and k > 0:
            parameters["error"] = rng.choice(spec.failures)
            body.update(job_status="Failed", drift_detected=False)
        else:
            body.update(job_status="Completed", data_drift=data_drift_result(rng, spec, days_ago))
            concept_counters[stream_index] += 1
            if stream.concept_every and concept_counters[stream_index] % stream.concept_every == 0:
                body["concept_drift"] = concept_drift_result(rng, spec, stream, days_ago)
            results = [body["data_drift"], *([body["concept_drift"]] if "concept_drift" in body else [])]
            body["drift_detected"] = any(result["drift"] for result in results)
        run_id = str(uuid.uuid5(RUN_ID_NAMESPACE, f"{spec.name}/{index}"))
        runs.append(PlannedRun(run_id, stream.reporter or spec.owner, body))
    return runs


# --------------------------------------------------------------------------------------
# Loading through the API
# --------------------------------------------------------------------------------------


@dataclass
class DemoSummary:
    """What the demo data is, and what this load did."""

    skipped: bool  # everything was already there: nothing was sent
    users: dict[str, str] = field(default_factory=dict)  # username -> user id
    experiments: dict[str, str] = field(default_factory=dict)  # name -> experiment id
    runs: dict[str, int] = field(default_factory=dict)  # name -> runs stored for it
    experiments_created: int = 0
    runs_created: int = 0

    @property
    def total_runs(self) -> int:
        return sum(self.runs.values())

    def to_dict(self) -> dict:
        return {"skipped": self.skipped, "users": self.users, "experiments": self.experiments, "runs": self.runs,
                "total_runs": self.total_runs, "experiments_created": self.experiments_created,
                "runs_created": self.runs_created}


class _Client:
    """Small JSON client for the API; one per thread (a requests.Session is not thread-safe)."""

    def __init__(self, base_url: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, token: str | None, expected: Sequence[int], **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{self.base_url}{API}{path}"
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise DemoDataError(f"{method} {url} failed: {error}") from error
        if response.status_code not in expected:
            raise DemoDataError(f"{method} {url} answered {response.status_code}: {response.text.strip()[:500]}")
        return response

    def find_experiment(self, name: str, token: str) -> dict | None:
        found = self.call("POST", "/experiment/search", token, (200,), json={"name": name}).json()
        return found[0] if found else None

    def count_runs(self, experiment_id: str, token: str) -> int:
        response = self.call("POST", f"/experiment/{experiment_id}/drift/search", token, (200,),
                             params={"page_size": 1}, json={})
        return int(json.loads(response.headers["X-Pagination"])["total"])


def _register(client: _Client, tokens: Mapping[str, str]) -> dict[str, str]:
    users = {}
    for username in DEMO_USERS:
        response = client.call("POST", "/user", tokens[username], (201, 409))
        if response.status_code == 409:  # registered before
            response = client.call("GET", "/user/self", tokens[username], (200,))
        users[username] = response.json()["id"]
    return users


def _permissions(spec: ExperimentSpec, users: Mapping[str, str]) -> list[dict]:
    return [{"entity": users.get(entity, entity), "level": level} for entity, level in spec.grants]


def _ensure_experiment(client: _Client, spec: ExperimentSpec, users: Mapping[str, str],
                       tokens: Mapping[str, str]) -> tuple[dict, bool]:
    body = {"name": spec.name, "description": spec.description, "public": spec.public,
            "permissions": _permissions(spec, users)}
    response = client.call("POST", "/experiment", tokens[spec.owner], (201, 409), json=body)
    if response.status_code == 201:
        return response.json(), True
    experiment = client.find_experiment(spec.name, tokens[spec.owner])
    if experiment is None:
        # Users are keyed by issuer: a database filled through another IDP_PORT has other users.
        raise DemoDataError(f"an experiment named {spec.name!r} exists but {spec.owner} cannot see it; was the "
                            "database filled with another IDP_PORT? Use the same one, or start afresh with "
                            "`make clean` (which deletes .run/)")
    return experiment, False


def _load_runs(base_url: str, timeout: float, experiment: dict, runs: Sequence[PlannedRun],
               tokens: Mapping[str, str]) -> int:
    """Post the runs in order; return how many were new."""
    client = _Client(base_url, timeout)
    created = 0
    try:
        for run in runs:
            response = client.call("POST", f"/experiment/{experiment['id']}/drift", tokens[run.reporter],
                                   (200, 201, 409), json={"id": run.id, **run.body})
            # 200: replay of a stored run; 409: the stored run was changed since, left alone.
            created += response.status_code == 201
    finally:
        client.close()
    return created


def load_demo_data(base_url: str, tokens: Mapping[str, str], timeout: float = REQUEST_TIMEOUT) -> DemoSummary:
    """Load the demo users, experiments and drift runs through the API at ``base_url``.

    ``tokens`` maps the usernames alice, bob, carol and admin to access tokens of a
    trusted issuer (e.g. ``SandboxIdp.user_token(name)``). Idempotent, see the module doc.
    """
    missing = [username for username in DEMO_USERS if username not in tokens]
    if missing:
        raise ValueError(f"tokens needed for {', '.join(missing)}")
    client = _Client(base_url, timeout)
    try:
        users = _register(client, tokens)
        summary = DemoSummary(skipped=False, users=users)

        existing = {spec.name: client.find_experiment(spec.name, tokens[spec.owner]) for spec in EXPERIMENTS}
        if all(existing.values()):
            counts = {name: client.count_runs(experiment["id"], tokens["admin"])
                      for name, experiment in existing.items()}
            planned = {spec.name: len(plan_runs(spec, _created_at(existing[spec.name]))) for spec in EXPERIMENTS}
            if all(counts[name] >= planned[name] for name in counts):
                summary.skipped = True
                summary.experiments = {name: experiment["id"] for name, experiment in existing.items()}
                summary.runs = counts
                return summary

        plans = []
        for spec in EXPERIMENTS:
            experiment, created = existing[spec.name], False
            if experiment is None:
                experiment, created = _ensure_experiment(client, spec, users, tokens)
            summary.experiments_created += created
            summary.experiments[spec.name] = experiment["id"]
            plans.append((spec, experiment, plan_runs(spec, _created_at(experiment))))

        with ThreadPoolExecutor(max_workers=len(plans)) as pool:
            created_counts = list(pool.map(
                lambda plan: _load_runs(base_url, timeout, plan[1], plan[2], tokens), plans))
        summary.runs_created = sum(created_counts)
        summary.runs = {spec.name: client.count_runs(experiment["id"], tokens["admin"])
                        for spec, experiment, _ in plans}
        return summary
    finally:
        client.close()


def _created_at(experiment: dict) -> datetime:
    return datetime.fromisoformat(experiment["created_at"].replace("Z", "+00:00"))


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.demo_data",
        description="Load the demo experiments and drift runs through the API, with sandbox users' tokens.",
    )
    parser.add_argument("--url", default="http://127.0.0.1:5000", help="API base URL (default %(default)s)")
    parser.add_argument("--issuer", default="http://127.0.0.1:5001",
                        help="sandbox identity provider issuer (default %(default)s)")
    args = parser.parse_args(argv)

    from .idp.launcher import SandboxIdp, SandboxIdpError

    idp = SandboxIdp(args.issuer)
    try:
        tokens = {username: idp.user_token(username) for username in DEMO_USERS}
        summary = load_demo_data(args.url, tokens)
    except (SandboxIdpError, DemoDataError, requests.RequestException) as error:
        print(f"demo data not loaded: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
