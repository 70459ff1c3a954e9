"""Every data source, fit → windowed run → a run stored on the real backend: CSV, Parquet, the
embedded MongoDB (``mongo_uri``) and SQLite through SQLAlchemy."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pymongo
import pytest
import sqlalchemy as sa

from detector.config import Config, SourceSettings
from detector.errors import ConfigError, DataError
from detector.runner import fit, run_once
from detector.sources import describe, read_source

UTC = dt.timezone.utc
SINCE = dt.datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
UNTIL = dt.datetime(2026, 2, 1, 20, 0, tzinfo=UTC)  # 720 one-minute rows


def _mongo_url(mongo_uri: str, database: str, collection: str) -> str:
    parts = urlsplit(mongo_uri)
    query = dict(parse_qsl(parts.query))
    if parts.username and "authSource" not in query:
        query["authSource"] = "admin"  # credentials of a container live in admin, not in the test database
    query["collection"] = collection
    return urlunsplit(parts._replace(path=f"/{database}", query=urlencode(query)))


@pytest.fixture
def store_frame(tmp_path, mongo_uri):
    """store_frame(kind, frame, name) → the source (a URL or a mapping) that reads ``frame`` back."""
    databases: list[str] = []

    def store(kind: str, frame, name: str):
        if kind == "csv":
            path = tmp_path / f"{name}.csv"
            frame.to_csv(path, index=False)
            return str(path)
        if kind == "parquet":
            path = tmp_path / f"{name}.parquet"
            frame.to_parquet(path)
            return f"file://{path}"
        if kind == "mongodb":
            database = f"detector-src-{uuid.uuid4().hex[:10]}"
            databases.append(database)
            with pymongo.MongoClient(mongo_uri) as mongo:
                mongo[database][name].insert_many(frame.to_dict("records"))
            return _mongo_url(mongo_uri, database, name)
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / 'batches.db'}"
            engine = sa.create_engine(url)
            stored = frame.copy()
            stored["ts"] = stored["ts"].dt.tz_convert("UTC").dt.tz_localize(None)  # a plain TIMESTAMP column
            stored.to_sql(name, engine, index=False)
            engine.dispose()
            return {"url": url, "query": f"SELECT * FROM {name} WHERE x1 IS NOT NULL"}
        raise AssertionError(kind)

    yield store
    with pymongo.MongoClient(mongo_uri) as mongo:
        for database in databases:
            mongo.drop_database(database)


@pytest.mark.parametrize("kind", ["csv", "parquet", "mongodb", "sqlite"])
def test_fit_and_a_windowed_run_from_each_source_are_reported(kind, store_frame, make_frame, server, experiment,
                                                              tmp_path):
    reference = make_frame(2000, seed=1, start="2026-01-01")
    current = make_frame(24 * 60, seed=2, start="2026-02-01", shift={"x0": 0.5, "accuracy": 0.7})
    common = {"project": f"{kind}-project", "artifacts": str(tmp_path / "artifacts"), "timestamp_column": "ts",
              "label": "label", "prediction": "prediction", "experiment": experiment["name"], "model": f"{kind}-model",
              "tags": [kind]}
    fit(Config.from_mapping({**common, "reference": store_frame(kind, reference, "reference")}))

    config = Config.from_mapping({**common, "current": store_frame(kind, current, "current"),
                                  "since": SINCE.isoformat(), "until": UNTIL.isoformat()})
    outcome = run_once(config, client=server)

    assert outcome.status == "Completed" and outcome.reported and not outcome.spooled
    assert outcome.n_rows == 720  # 08:00 (included) to 20:00 (excluded), one row a minute
    run = server.get_drift(experiment, outcome.run_id)
    assert run["job_status"] == "Completed" and run["model"] == f"{kind}-model"
    assert run["parameters"]["window_start"] == "2026-02-01T08:00:00Z"
    assert run["parameters"]["window_end"] == "2026-02-01T20:00:00Z"
    assert run["parameters"]["n_rows"] == 720
    features = run["data_drift"]["parameters"]["features"]
    assert set(features) == {"x0", "x1", "x2", "c0", "c1"}
    assert features["x0"]["drifted"] and features["x0"]["n_current"] == 720
    assert run["concept_drift"]["parameters"]["metric"] == "accuracy"
    assert run["concept_drift"]["drift"] is True  # 0.8 → 0.7
    assert run["tags"] == [kind, "concept_drift", "data_drift"]


def test_missing_files_columns_and_bad_urls_are_clear_errors(tmp_path, make_frame, mongo_uri):
    path = tmp_path / "batch.csv"
    make_frame(10, seed=1).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"has no column\(s\) 'income', 'region'"):
        read_source(SourceSettings(url=str(path)), ["x0", "income", "region"])
    with pytest.raises(DataError, match="does not exist"):
        read_source(SourceSettings(url=str(tmp_path / "absent.parquet")))
    with pytest.raises(ConfigError, match="cannot tell the format"):
        read_source(SourceSettings(url=str(tmp_path / "batch.xlsx")))
    with pytest.raises(ConfigError, match="name the collection"):
        read_source(SourceSettings(url=mongo_uri.rstrip("/") + "/shop"))
    with pytest.raises(ConfigError, match="needs query"):
        read_source(SourceSettings(url=f"sqlite:///{tmp_path / 'x.db'}"))
    with pytest.raises(DataError, match="cannot run the query.*no such table"):
        read_source(SourceSettings(url=f"sqlite:///{tmp_path / 'x.db'}", table="absent"))
    with pytest.raises(DataError, match="not dates or times"):
        frame = make_frame(5, seed=1)
        frame["ts"] = "yesterday"
        frame.to_csv(path, index=False)
        read_source(SourceSettings(url=str(path)), ["x0"], timestamp_column="ts")
    assert describe(SourceSettings(url="postgresql://reader:hunter2@db/sales")) == "postgresql://***@db/sales"


def test_mongodb_filter_and_window_are_pushed_to_the_server(store_frame, make_frame):
    frame = make_frame(600, seed=3, start="2026-02-01")
    url = store_frame("mongodb", frame, "events")
    source = SourceSettings(url=url, filter={"c0": "a"})
    batch = read_source(source, ["x0", "c0"], timestamp_column="ts", since=dt.datetime(2026, 2, 1, 1, tzinfo=UTC),
                        until=dt.datetime(2026, 2, 1, 3, tzinfo=UTC))
    expected = frame[(frame.c0 == "a") & (frame.ts >= "2026-02-01T01:00Z") & (frame.ts < "2026-02-01T03:00Z")]
    assert len(batch) == len(expected) > 0
    assert list(batch.columns) == ["x0", "c0", "ts"]
    assert str(batch["ts"].dt.tz) == "UTC"


def test_a_pandas_index_stored_in_parquet_is_not_read_as_a_column(tmp_path, make_frame):
    frame = make_frame(100, seed=4, with_target=False)
    frame = frame[frame.x0 > 0]  # a filtered frame: pandas writes its index as __index_level_0__
    frame.to_parquet(tmp_path / "filtered.parquet")
    batch = read_source(SourceSettings(url=str(tmp_path / "filtered.parquet")))
    assert list(batch.columns) == ["x0", "x1", "x2", "c0", "c1", "ts"] and len(batch) == len(frame)
