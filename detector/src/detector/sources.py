"""Reading a batch of data: CSV and Parquet files (local or any fsspec URL), a MongoDB collection,
an SQL query through SQLAlchemy; optionally only the rows of a time window.

Every reader returns a pandas DataFrame with the requested columns, the timestamp column as UTC
datetimes, and raises DataError saying which source failed and why. The time window is
``since <= timestamp < until``; it is pushed down to MongoDB and SQL, and applied again in pandas
so every source selects exactly the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from .config import SourceSettings
from .errors import ConfigError, DataError
from .redact import mask_url

__all__ = ["describe", "read_source", "source_kind"]

log = logging.getLogger("detector")

#: URL schemes (before any "+driver") read through SQLAlchemy.
SQL_SCHEMES = {"sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle", "duckdb", "snowflake",
               "cockroachdb", "redshift", "trino", "clickhouse", "bigquery", "databricks", "db2", "ibm_db_sa"}
MONGO_SCHEMES = {"mongodb", "mongodb+srv"}
#: Give up on an unreachable MongoDB after this long (unless the URL says otherwise).
MONGO_TIMEOUT_MS = 10_000


def source_kind(source: SourceSettings) -> str:
    """"mongodb", "sql" or "file"."""
    scheme = urlsplit(source.url).scheme.lower()
    if scheme in MONGO_SCHEMES:
        return "mongodb"
    if source.query or source.table or scheme.split("+")[0] in SQL_SCHEMES:
        return "sql"
    return "file"


def describe(source: SourceSettings) -> str:
    """The source for messages and stored results: its URL without userinfo or query-string credentials."""
    return mask_url(source.url)


def read_source(source: SourceSettings, columns: Sequence[str] | None = None, *, optional: Sequence[str] = (),
                timestamp_column: str | None = None, since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> pd.DataFrame:
    """The rows of ``source`` whose timestamp is in [since, until): only ``columns`` (and the
    ``optional`` columns that exist, e.g. labels that may not have arrived yet) when given.

    Missing columns raise DataError naming them; so does a source that cannot be read.
    """
    if (since or until) and not timestamp_column:
        raise ConfigError("--since/--until need the timestamp column: set timestamp_column in the config")
    required = None if columns is None else list(dict.fromkeys([*columns, *([timestamp_column] if timestamp_column
                                                                         else [])]))
    wanted = None if required is None else list(dict.fromkeys([*required, *optional]))
    kind = source_kind(source)
    reader = {"mongodb": _read_mongodb, "sql": _read_sql, "file": _read_file}[kind]
    frame = reader(source, wanted, timestamp_column, since, until)
    if required is not None:
        missing = [name for name in required if name not in frame.columns]
        if missing:
            raise DataError(f"{describe(source)} has no column(s) {', '.join(map(repr, missing))}; "
                            f"it has: {', '.join(map(str, frame.columns[:30]))}"
                            f"{' ...' if len(frame.columns) > 30 else ''}")
        frame = frame[[name for name in wanted if name in frame.columns]]
    if timestamp_column:
        if timestamp_column not in frame.columns:
            raise DataError(f"{describe(source)} has no timestamp column {timestamp_column!r}")
        frame[timestamp_column] = _as_utc(frame[timestamp_column], timestamp_column, source)
        if since is not None or until is not None:
            keep = pd.Series(True, index=frame.index)
            if since is not None:
                keep &= frame[timestamp_column] >= pd.Timestamp(since)
            if until is not None:
                keep &= frame[timestamp_column] < pd.Timestamp(until)
            frame = frame.loc[keep]
    return frame.reset_index(drop=True)


def _as_utc(values: pd.Series, name: str, source: SourceSettings) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    if pd.api.types.is_numeric_dtype(values.dtype):
        raise DataError(f"timestamp column {name!r} of {describe(source)} holds numbers, not dates or times")
    try:
        return pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as error:
        raise DataError(f"timestamp column {name!r} of {describe(source)} has values that are not dates or "
                        f"times: {error}") from None


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def _file_format(source: SourceSettings) -> str:
    if source.format:
        return source.format
    path = urlsplit(source.url).path.lower() if "://" in source.url else source.url.lower()
    for suffix in (".gz", ".bz2", ".zip", ".xz", ".zst"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    if path.endswith((".parquet", ".pq", ".parq")):
        return "parquet"
    if path.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    raise ConfigError(f"cannot tell the format of {describe(source)}: name it .csv or .parquet, or set format: "
                      "csv|parquet in the source")


def _read_file(source: SourceSettings, columns: list[str] | None, timestamp_column: str | None,
               since: dt.datetime | None, until: dt.datetime | None) -> pd.DataFrame:
    fmt = _file_format(source)
    options = dict(source.options)
    try:
        if fmt == "parquet":
            return _read_parquet(source, columns, options)
        if columns is not None:
            wanted = set(columns)
            # A callable keeps read_csv from failing on missing columns, so the caller can name them all.
            options.setdefault("usecols", lambda name: name in wanted)
        if urlsplit(source.url).path.lower().endswith(".tsv"):
            options.setdefault("sep", "\t")
        return pd.read_csv(source.url, **options)
    except (DataError, ConfigError):
        raise
    except FileNotFoundError:
        raise DataError(f"{describe(source)} does not exist") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{describe(source)} is empty (not even a header line)") from None
    except ImportError as error:
        raise DataError(f"cannot read {describe(source)}: {error} (install the filesystem's package, e.g. s3fs "
                        "for s3://: pip install 'drift-detector[s3]')") from None
    except Exception as error:  # parsers raise many types; all mean "unreadable"
        raise DataError(f"cannot read {describe(source)} as {fmt}: {type(error).__name__}: {error}") from None


#: Columns converted from Arrow to pandas at a time: the transient copy is one group, not the whole batch.
PARQUET_COLUMN_GROUP = 8


def _read_parquet(source: SourceSettings, columns: list[str] | None, options: dict) -> pd.DataFrame:
    import fsspec.core
    import pyarrow.parquet as pq

    scheme = urlsplit(source.url).scheme if "://" in source.url else ""
    if scheme in ("", "file"):
        # Local files: pyarrow's own file system reads with its thread pool, faster than through fsspec.
        filesystem, path = None, source.url.removeprefix("file://")
    else:
        filesystem, path = fsspec.core.url_to_fs(source.url)
    if options:  # pyarrow options (filters, ...): one read_table, as asked
        table = pq.read_table(path, columns=columns, filesystem=filesystem, **options)
        return table.to_pandas(split_blocks=True, self_destruct=True, types_mapper=_string_types())
    with pq.ParquetFile(path, filesystem=filesystem) as parquet:
        # pandas stores a non-default index as a column (e.g. __index_level_0__): it is not data.
        index_columns = {name for name in (parquet.schema_arrow.pandas_metadata or {}).get("index_columns", [])
                         if isinstance(name, str)}
        present = [name for name in parquet.schema_arrow.names if name not in index_columns]
        # Absent columns are left out here and named all together by read_source.
        names = present if columns is None else [name for name in columns if name in present]
        parts: dict[str, pd.Series] = {}
        for start in range(0, len(names), PARQUET_COLUMN_GROUP):
            table = parquet.read(columns=names[start:start + PARQUET_COLUMN_GROUP])
            # Each Arrow column is freed as soon as it is converted.
            frame = table.to_pandas(split_blocks=True, self_destruct=True, types_mapper=_string_types())
            del table
            parts.update((name, frame[name]) for name in frame.columns)
            del frame
    return pd.DataFrame(parts, copy=False) if parts else pd.DataFrame(columns=names)


def _string_types():
    """Arrow strings stay Arrow-backed strings, as pandas' own read_parquet gives them."""
    import pyarrow as pa

    string = pd.StringDtype(storage="pyarrow")
    return lambda arrow_type: string if arrow_type in (pa.string(), pa.large_string()) else None


# --------------------------------------------------------------------------------------
# MongoDB
# --------------------------------------------------------------------------------------


def _mongo_target(source: SourceSettings) -> tuple[str, str, str]:
    """(connection URL, database, collection); ``collection`` may come in the URL's query."""
    parts = urlsplit(source.url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    collection = source.collection
    kept = []
    for key, value in query:
        if key == "collection":
            collection = value
        else:
            kept.append((key, value))
    database = source.database or parts.path.lstrip("/") or None
    if not database:
        raise ConfigError(f"{describe(source)}: name the database in the URL (mongodb://host/DATABASE?collection=…) "
                          "or with database: in the source")
    if not collection:
        raise ConfigError(f"{describe(source)}: name the collection (?collection=NAME or collection: in the source)")
    url = urlunsplit(parts._replace(query=urlencode(kept)))
    return url, database, collection


def _read_mongodb(source: SourceSettings, columns: list[str] | None, timestamp_column: str | None,
                  since: dt.datetime | None, until: dt.datetime | None) -> pd.DataFrame:
    import pymongo
    from pymongo.errors import PyMongoError

    url, database, collection = _mongo_target(source)
    query = dict(source.filter)
    window = {}
    if since is not None:
        window["$gte"] = since
    if until is not None:
        window["$lt"] = until
    if window and timestamp_column:
        query = {"$and": [query, {timestamp_column: window}]} if query else {timestamp_column: window}
    projection = {name: 1 for name in columns} if columns is not None else {}
    projection["_id"] = 0
    options = {"serverSelectionTimeoutMS": MONGO_TIMEOUT_MS, "tz_aware": True}
    if "serverselectiontimeoutms" in urlsplit(url).query.lower():
        options.pop("serverSelectionTimeoutMS")
    try:
        with pymongo.MongoClient(url, **options) as client:
            cursor = client[database][collection].find(query, projection, batch_size=10_000)
            frame = pd.DataFrame.from_records(list(cursor))
    except PyMongoError as error:
        raise DataError(f"cannot read {database}.{collection} from {describe(source)}: {error}") from None
    if frame.empty and columns is not None:
        # No document matched: an empty batch (reported as such), not a batch missing every column.
        frame = pd.DataFrame(columns=columns)
    return frame


# --------------------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------------------


def _read_sql(source: SourceSettings, columns: list[str] | None, timestamp_column: str | None,
              since: dt.datetime | None, until: dt.datetime | None) -> pd.DataFrame:
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover - a dependency of the package
        raise DataError("SQL sources need SQLAlchemy: pip install sqlalchemy") from None
    if not (source.query or source.table):
        raise ConfigError(f"{describe(source)}: an SQL source needs query: (a SELECT) or table: in the source")
    if source.table:
        schema, _, name = source.table.rpartition(".")
        selectable = sa.table(name, schema=schema or None)
    else:
        selectable = sa.text(source.query).columns().subquery("batch")
    statement = sa.select(sa.literal_column("*")).select_from(selectable)
    if timestamp_column:
        # The driver formats the bound datetimes for the column's type; naive means UTC.
        column = sa.column(timestamp_column, sa.DateTime())
        if since is not None:
            statement = statement.where(column >= since.astimezone(dt.timezone.utc).replace(tzinfo=None))
        if until is not None:
            statement = statement.where(column < until.astimezone(dt.timezone.utc).replace(tzinfo=None))
    try:
        engine = sa.create_engine(source.url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as error:
        raise ConfigError(f"{describe(source)} is not a usable SQLAlchemy URL: {error}") from None
    try:
        with engine.connect() as connection:
            return pd.read_sql(statement, connection)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as error:
        # pandas wraps the driver's error; the first line of the innermost one says what went wrong.
        cause = error.__cause__ if isinstance(error, pd.errors.DatabaseError) and error.__cause__ else error
        message = str(getattr(cause, "orig", None) or cause).splitlines()[0]
        raise DataError(f"cannot run the query on {describe(source)}: {message}") from None
    finally:
        engine.dispose()
