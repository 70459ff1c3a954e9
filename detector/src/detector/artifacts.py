"""Where fitted projects live: a local folder or any fsspec URL (s3://, gs://, memory://, ...).

    <artifacts>/index.json                          every project, its status and last run
    <artifacts>/<project>/configuration.yaml        the configuration it was fitted with
    <artifacts>/<project>/profile.json              the reference profile
    <artifacts>/<project>/reference_sample.parquet  the reference row sample for plug-in detectors

Only JSON, YAML and Parquet: nothing is unpickled. Files are written to a temporary name and then
moved into place, so a reader never sees half a profile (on object stores the move is a copy).
The index is rewritten as a whole; two detectors writing into one artifacts location at the same
moment can lose one index update (never a profile), so give each scheduled detector its own
projects.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import posixpath
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml

from .errors import ArtifactError, ProjectNotFound
from .redact import mask_url

__all__ = ["ArtifactStore", "INDEX_FORMAT"]

INDEX_FORMAT = "drift-detector-index/1"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class ArtifactStore:
    """The artifacts location ``url`` (a path or fsspec URL); ``storage_options`` go to fsspec."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None):
        import fsspec.core

        # Messages and summaries show the masked URL; only fsspec gets the raw one.
        self.url = mask_url(str(url))
        try:
            self.fs, self.root = fsspec.core.url_to_fs(str(url), **dict(storage_options or {}))
        except ImportError as error:
            raise ArtifactError(f"cannot use artifacts at {self.url}: {error} (for s3:// install "
                                "'drift-detector[s3]')") from None
        except ValueError as error:
            raise ArtifactError(f"cannot use artifacts at {self.url}: {error}") from None

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    # Paths and raw I/O -------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts) if self.root else posixpath.join(*parts)

    def _write(self, path: str, data: bytes) -> None:
        parent = posixpath.dirname(path)
        temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            if parent:
                self.fs.makedirs(parent, exist_ok=True)
            with self.fs.open(temporary, "wb") as stream:
                stream.write(data)
            self.fs.mv(temporary, path)
        except OSError as error:
            raise ArtifactError(f"cannot write {path} in {self.url}: {error}") from None

    def _read(self, path: str) -> bytes:
        with self.fs.open(path, "rb") as stream:
            return stream.read()

    def exists(self, project: str) -> bool:
        return self.fs.exists(self._path(project, "profile.json"))

    # Projects ------------------------------------------------------------------------------

    def save_project(self, project: str, configuration: Mapping, profile: Mapping, sample: pd.DataFrame) -> None:
        """Store a fitted project (sample first, profile last: a profile always has its sample)."""
        buffer = io.BytesIO()
        try:
            sample.to_parquet(buffer, index=False)
        except Exception:  # pyarrow refuses mixed-type object columns; keep them as text
            text = sample.copy()
            for column in text.columns:
                if text[column].dtype == object:
                    text[column] = text[column].map(lambda value: None if value is None else str(value))
            buffer = io.BytesIO()
            text.to_parquet(buffer, index=False)
        self._write(self._path(project, "reference_sample.parquet"), buffer.getvalue())
        self._write(self._path(project, "configuration.yaml"),
                    yaml.safe_dump(dict(configuration), sort_keys=False, allow_unicode=True).encode())
        self._write(self._path(project, "profile.json"), json.dumps(profile, separators=(",", ":")).encode())
        features = profile.get("features", {})
        self.update_index(project, status="fitted", fitted_at=profile.get("fitted_at"), n_reference=profile.get(
            "n_rows"), n_features=len(features), task=profile.get("task"), source=profile.get("source"),
            experiment=configuration.get("experiment") or project, experiment_id=configuration.get("experiment_id"),
            model=configuration.get("model") or project)

    def load_configuration(self, project: str) -> dict:
        self._require(project)
        try:
            data = yaml.safe_load(self._read(self._path(project, "configuration.yaml")))
        except FileNotFoundError:
            return {}
        except (yaml.YAMLError, OSError) as error:
            raise ArtifactError(f"the stored configuration of {project!r} in {self.url} is unreadable: {error}") from None
        return data or {}

    def load_profile(self, project: str) -> dict:
        self._require(project)
        try:
            profile = json.loads(self._read(self._path(project, "profile.json")))
        except (ValueError, OSError) as error:
            raise ArtifactError(f"the profile of {project!r} in {self.url} is unreadable: {error}; fit it again") from None
        if not isinstance(profile, dict) or not str(profile.get("format", "")).startswith("drift-detector-profile/"):
            raise ArtifactError(f"{self._path(project, 'profile.json')} is not a detector profile; fit it again")
        return profile

    def load_sample(self, project: str) -> pd.DataFrame:
        self._require(project)
        try:
            return pd.read_parquet(io.BytesIO(self._read(self._path(project, "reference_sample.parquet"))))
        except (OSError, ValueError) as error:
            raise ArtifactError(f"the reference sample of {project!r} in {self.url} is unreadable: {error}; "
                                "fit it again") from None

    def _require(self, project: str) -> None:
        if not self.exists(project):
            known = sorted(self.index().get("projects", {}))
            hint = f"known projects: {', '.join(known)}" if known else "no project has been fitted there yet"
            raise ProjectNotFound(f"unknown project {project!r} in {self.url} ({hint}); "
                                  f"fit it first: detector fit --project {project} --reference SOURCE")

    # Index ---------------------------------------------------------------------------------

    def index(self) -> dict:
        path = self._path("index.json")
        try:
            data = json.loads(self._read(path))
        except FileNotFoundError:
            return {"format": INDEX_FORMAT, "projects": {}}
        except (ValueError, OSError) as error:
            raise ArtifactError(f"{path} is unreadable: {error}") from None
        data.setdefault("projects", {})
        return data

    def update_index(self, project: str, **fields: Any) -> dict:
        """Merge ``fields`` into the project's entry (None values remove a field) and return it."""
        index = self.index()
        entry = dict(index["projects"].get(project, {}))
        for key, value in fields.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        entry["updated_at"] = _now()
        index["projects"][project] = entry
        index["format"] = INDEX_FORMAT
        self._write(self._path("index.json"), json.dumps(index, indent=2, sort_keys=True).encode())
        return entry

    def record_run(self, project: str, *, status: str, run_id: str | None, drift_detected: bool | None,
                   window_start: str | None, window_end: str | None, error: str | None = None) -> dict:
        """Note a run in the index; a Completed run with a window moves ``last_window_end`` on."""
        last_run = {"at": _now(), "status": status, "run_id": run_id, "drift_detected": drift_detected,
                    "window_start": window_start, "window_end": window_end, "error": error}
        fields: dict[str, Any] = {"status": status.lower(), "last_run": {k: v for k, v in last_run.items()
                                                                          if v is not None}}
        if status == "Completed" and window_end:
            fields["last_window_end"] = window_end
        return self.update_index(project, **fields)
