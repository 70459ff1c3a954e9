"""Service behaviour: health, version, docs, the latest alias, request limits and error shapes."""

import json

import pytest

from factories import API


def test_health_reports_the_database(client):
    response = client.get("/api/health")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_version(client):
    response = client.get("/api/version")

    assert response.status_code == 200
    assert response.json["api"] == "v1"
    assert response.json["server"]


def test_openapi_document_is_valid_3_1_and_documents_security_and_errors(client):
    from openapi_spec_validator import validate

    spec = client.get(f"{API}/openapi.json").json

    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    create_drift = spec["paths"]["/api/v1/experiment/{experiment_id}/drift"]["post"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(create_drift["responses"])
    assert create_drift["security"] == [{"bearerAuth": []}]
    search = spec["paths"]["/api/v1/experiment/search"]["post"]
    assert {} in search["security"]  # anonymous allowed
    assert "X-Pagination" in search["responses"]["200"]["headers"]


def test_swagger_ui_is_served_without_a_cdn(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "swagger-ui-bundle.js" in html and "http" not in html.split("swagger-ui-bundle.js")[0].rsplit('"', 1)[-1]
    assert f"{API}/openapi.json" in html
    bundle = client.get("/api/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.data) > 100_000


def test_latest_is_an_alias_of_v1(client, alice):
    via_latest = client.get("/api/latest/entitlement", headers=alice.headers)
    via_v1 = client.get(f"{API}/entitlement", headers=alice.headers)

    assert via_latest.status_code == 200
    assert via_latest.json == via_v1.json


def test_bodies_over_1_mib_are_413(client, alice, make_experiment):
    experiment = make_experiment(alice)
    body = {"job_status": "Running", "model": "m", "parameters": {"blob": "x" * (1024 * 1024)}}

    response = client.post(f"{API}/experiment/{experiment['id']}/drift", json=body, headers=alice.headers)

    assert response.status_code == 413
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_malformed_json_is_400(client, alice):
    response = client.post(f"{API}/experiment", data="{not json", content_type="application/json",
                           headers=alice.headers)

    assert response.status_code == 400
    assert response.json["status"] == "Bad Request"


@pytest.mark.parametrize("method, path", [("get", "/api/v1/nothing-here"), ("patch", "/api/health")])
def test_unknown_routes_and_methods_answer_json(client, method, path):
    response = getattr(client, method)(path)

    assert response.status_code in (404, 405)
    assert response.is_json
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_settings_errors_name_the_variable(app_env):
    from drift_backend.settings import Settings, SettingsError

    cases = {
        "APP_TRUSTED_OP_LIST": {k: v for k, v in app_env.items() if k != "APP_TRUSTED_OP_LIST"},
        "APP_ADMIN_ENTITLEMENTS": {**app_env, "APP_ADMIN_ENTITLEMENTS": "admins"},
        "APP_DATABASE_TIMEOUT_MS": {**app_env, "APP_DATABASE_TIMEOUT_MS": "soon"},
        "APP_DATABASE_URI": {**app_env, "APP_DATABASE_URI": "postgres://x"},
        "APP_DATABASE_HOST": {k: v for k, v in app_env.items() if k != "APP_DATABASE_URI"},
    }
    for variable, env in cases.items():
        with pytest.raises(SettingsError, match=variable):
            Settings.from_environ(env)


def test_secret_files_fill_in_settings(tmp_path):
    from drift_backend.settings import Settings

    (tmp_path / "app_database_password").write_text("s3cret/with:chars\n")
    settings = Settings.from_environ({
        "APP_SECRETS_DIR": str(tmp_path), "APP_DATABASE_HOST": "database", "APP_DATABASE_USERNAME": "app",
        "APP_TRUSTED_OP_LIST": json.dumps(["https://issuer.example.org/"]), "APP_TOKEN_AUDIENCE": "drift-monitor",
    })

    assert settings.database_uri == "mongodb://app:s3cret%2Fwith%3Achars@database:27017/?authSource=drifts-data"
    assert settings.trusted_op_list == ("https://issuer.example.org",)
