"""Plotly figures and their data frames, built from the API's aggregation answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .tables import timestamps

DETECTED_COLOUR = "#d62728"
NOT_DETECTED_COLOUR = "#8c9bab"
STATUS_COLOURS = {"completed": "#2ca02c", "failed": "#d62728", "running": "#1f77b4"}
# Models share the detected/not-detected colours, so they are told apart by a pattern.
MODEL_PATTERNS = ("", "/", ".", "x", "\\", "+", "-", "|")

BUCKET_COLUMNS = ["start", "model", "runs", "running", "completed", "failed", "drift_detected",
                  "concept_detected", "concept_not_detected", "data_detected", "data_not_detected"]
INTERVAL_LABELS = {"day": "Day", "week": "Week starting", "month": "Month"}


def buckets_frame(buckets: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The summary's buckets (one row per time bucket and model), with ``start`` as UTC datetimes."""
    frame = pd.DataFrame(list(buckets), columns=BUCKET_COLUMNS)
    frame["start"] = timestamps(frame["start"])
    counts = BUCKET_COLUMNS[2:]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    return frame


def drift_timeline(buckets: Sequence[Mapping[str, Any]], interval: str = "day") -> go.Figure:
    """Runs with concept and data drift results per time bucket, one row each: detected stacked on
    not detected, one bar per model."""
    frame = buckets_frame(buckets)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                           subplot_titles=("Concept drift", "Data drift"))
    models = sorted(frame["model"].dropna().unique())
    for index, model in enumerate(models):
        rows = frame[frame["model"] == model]
        pattern = MODEL_PATTERNS[index % len(MODEL_PATTERNS)] if len(models) > 1 else ""
        for row, kind in ((1, "concept"), (2, "data")):
            for outcome, colour in (("detected", DETECTED_COLOUR), ("not_detected", NOT_DETECTED_COLOUR)):
                label = outcome.replace("_", " ")
                figure.add_trace(go.Bar(
                    x=rows["start"], y=rows[f"{kind}_{outcome}"], name=f"{model} · {label}",
                    offsetgroup=model, legendgroup=f"{model} · {label}", showlegend=row == 1,
                    marker={"color": colour, "pattern": {"shape": pattern}},
                    hovertemplate=f"%{{x|%Y-%m-%d}}<br>{model}<br>{kind} drift {label}: %{{y}} runs<extra></extra>",
                ), row=row, col=1)
    figure.update_layout(title="Drift timeline", barmode="relative", legend_title_text="Model · result",
                         height=520, margin={"t": 80})
    figure.update_yaxes(title_text="runs")
    figure.update_xaxes(title_text=INTERVAL_LABELS.get(interval, ""), row=2, col=1)
    return figure


def job_status_frame(buckets: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Running, completed and failed runs per time bucket, all models together."""
    frame = buckets_frame(buckets)
    return frame.groupby("start", as_index=False)[["completed", "failed", "running"]].sum()


def job_status_figure(buckets: Sequence[Mapping[str, Any]], interval: str = "day") -> go.Figure:
    frame = job_status_frame(buckets)
    figure = go.Figure()
    for status, colour in STATUS_COLOURS.items():
        figure.add_trace(go.Bar(x=frame["start"], y=frame[status], name=status.capitalize(), marker_color=colour,
                                hovertemplate=f"%{{x|%Y-%m-%d}}<br>{status}: %{{y}} runs<extra></extra>"))
    figure.update_layout(title="Job status", barmode="stack", height=320, margin={"t": 60})
    figure.update_yaxes(title_text="runs")
    figure.update_xaxes(title_text=INTERVAL_LABELS.get(interval, ""))
    return figure


SERIES_COLUMNS = ["created_at", "value", "min", "max", "count", "drift_detected", "model", "run_id"]
VERSUS_COLUMNS = ["x", "y", "created_at", "drift_detected", "model", "run_id"]


def series_frame(series: Mapping[str, Any]) -> pd.DataFrame:
    """The points of a parameter series (over time, or against another parameter with ``versus``)."""
    columns = VERSUS_COLUMNS if series.get("versus") else SERIES_COLUMNS
    frame = pd.DataFrame(list(series.get("points") or []), columns=columns)
    frame["created_at"] = timestamps(frame["created_at"])
    frame["drift_detected"] = frame["drift_detected"].fillna(False).astype("bool")
    return frame


def _outcomes(frame: pd.DataFrame):
    for detected, name, colour in ((False, "no drift", NOT_DETECTED_COLOUR), (True, "drift detected", DETECTED_COLOUR)):
        yield frame[frame["drift_detected"] == detected], name, colour


def parameter_figure(series: Mapping[str, Any], log_scale: bool = False) -> go.Figure:
    """A parameter over time, or against another one; runs with drift detected in red."""
    frame = series_frame(series)
    figure = go.Figure()
    parameter, versus = series.get("parameter", ""), series.get("versus")
    for part, name, colour in _outcomes(frame):
        if versus:
            # The API's pairs are x = parameter, y = versus; drawn the other way round, so that the
            # chosen parameter stays on the vertical axis, as over time.
            figure.add_trace(go.Scattergl(
                x=part["y"], y=part["x"], mode="markers", name=name, marker_color=colour,
                customdata=part[["model", "run_id"]].astype(str),
                hovertemplate=f"{versus}: %{{x}}<br>{parameter}: %{{y}}<br>model %{{customdata[0]}}"
                              "<br>run %{customdata[1]}<extra></extra>"))
            continue
        # Downsampled points stand for several runs: the bars show their min..max.
        error = None
        if series.get("downsampled"):
            error = {"type": "data", "symmetric": False, "array": part["max"] - part["value"],
                     "arrayminus": part["value"] - part["min"], "thickness": 1, "width": 0}
        figure.add_trace(go.Scattergl(
            x=part["created_at"], y=part["value"], mode="markers", name=name, marker_color=colour, error_y=error,
            customdata=part[["count", "model", "run_id"]].astype(str),
            hovertemplate=f"%{{x|%Y-%m-%d %H:%M}}<br>{parameter}: %{{y}}<br>runs: %{{customdata[0]}}"
                          "<br>model %{customdata[1]}<extra></extra>"))
    figure.update_layout(title=f"{parameter} against {versus}" if versus else f"{parameter} over time",
                         height=480, legend_title_text="Run")
    figure.update_xaxes(title_text=versus or "created at (UTC)")
    figure.update_yaxes(title_text=parameter, type="log" if log_scale else "linear")
    if versus and log_scale:
        figure.update_xaxes(type="log")
    return figure


def heatmap_frame(heatmap: Mapping[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(list(heatmap.get("cells") or []),
                         columns=["feature", "start", "mean", "min", "max", "runs", "detected"])
    frame["start"] = timestamps(frame["start"])
    return frame


def low_values_alarm(statistic: str) -> bool:
    """A small p-value means drift; for other statistics (distances, PSI) a large value does."""
    return "p_value" in statistic or statistic in {"p", "pvalue"}


def heatmap_figure(heatmap: Mapping[str, Any]) -> go.Figure | None:
    """Features × time buckets coloured by the statistic's mean; None when there is nothing to draw."""
    frame = heatmap_frame(heatmap)
    if frame.empty:
        return None
    features = list(heatmap.get("features") or frame["feature"].unique())
    statistic = heatmap.get("statistic", "value")

    def grid(column: str) -> pd.DataFrame:
        return frame.pivot_table(index="feature", columns="start", values=column, aggfunc="first").reindex(features)

    means, detected, runs = grid("mean"), grid("detected"), grid("runs")
    lows, highs = grid("min"), grid("max")
    customdata = [[[detected.iat[i, j], runs.iat[i, j], lows.iat[i, j], highs.iat[i, j]]
                   for j in range(means.shape[1])] for i in range(means.shape[0])]
    figure = go.Figure(go.Heatmap(
        z=means.to_numpy(), x=list(means.columns), y=features, customdata=customdata,
        colorscale="RdBu" if low_values_alarm(statistic) else "RdBu_r", colorbar={"title": {"text": statistic}},
        hoverongaps=False,
        hovertemplate=(f"%{{y}}<br>%{{x|%Y-%m-%d}}<br>mean {statistic}: %{{z:.4g}}"
                       "<br>min %{customdata[2]:.4g}, max %{customdata[3]:.4g}"
                       "<br>drift detected in %{customdata[0]} of %{customdata[1]} runs<extra></extra>"),
    ))
    result = str(heatmap.get("result", "")).replace("_", " ")
    figure.update_layout(title=f"{result}: mean {statistic} per feature", height=max(320, 26 * len(features) + 160))
    figure.update_yaxes(autorange="reversed", title_text="feature")
    figure.update_xaxes(title_text=INTERVAL_LABELS.get(heatmap.get("interval", ""), "time"))
    return figure
