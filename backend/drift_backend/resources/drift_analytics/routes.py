"""/experiment/<id>/drift/{summary,series,heatmap,facets}: overviews of an experiment's drift runs."""

from datetime import timedelta

import marshmallow as ma
from flask.views import MethodView

from ...extensions.smorest import Access, Blueprint
from ...permissions import Level, require_level, resolve_caller
from ...repositories.drift_analytics import DriftAnalytics
from ...repositories.experiments import Experiments
from .schemas import (
    DriftSummarySchema,
    FacetsArgsSchema,
    FacetsSchema,
    HeatmapArgsSchema,
    HeatmapSchema,
    SeriesArgsSchema,
    SeriesSchema,
    SummaryArgsSchema,
)

blp = Blueprint(
    "drift_analytics", __name__, url_prefix="/experiment/<experiment_id>/drift",
    description="Overviews of an experiment's drift runs, aggregated on the server for dashboards and reports",
)

# A misspelt filter would silently widen the answer: unknown query arguments are refused (422).
_query = dict(location="query", unknown=ma.RAISE)


def _authorize(experiment_id: str) -> None:
    require_level(resolve_caller(), Experiments.from_app().get(experiment_id), Level.READ)


@blp.route("/summary")
class DriftSummaryViews(MethodView):
    @blp.access(Access.ANYONE)
    @blp.arguments(SummaryArgsSchema, **_query)
    @blp.response(200, DriftSummarySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, experiment_id):
        """Count runs per time bucket and model (Read)

        Counts come from per-day counters kept as runs are written, so the answer is fast at any
        number of runs; `since` and `until` are therefore widened to whole UTC days. A `tag` filter
        (tags are not counted) computes the same numbers from the runs (`source: runs`), which is slower.
        `stuck_runs` lists runs still Running after `stuck_after_minutes` (model filter only).
        """
        _authorize(experiment_id)
        return DriftAnalytics.from_app().summary(experiment_id, args["run_filter"], args["interval"],
                                                 timedelta(minutes=args["stuck_after_minutes"]))


@blp.route("/series")
class DriftSeriesViews(MethodView):
    @blp.access(Access.ANYONE)
    @blp.arguments(SeriesArgsSchema, **_query)
    @blp.response(200, SeriesSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, experiment_id):
        """A numeric parameter over time, or against another (Read)

        Only runs where the value is a number count. Up to `points` matching runs come back one
        point each; beyond that, in `points`/2 equal time buckets, separately for runs with and
        without drift detected, each with mean (`value`), min, max and count, so extremes survive.
        With `versus`, points are (x, y) pairs of runs where both are numbers, a uniform random
        sample of `points` when more match.

        Beyond `points` runs and with filters on time, model and `detected` alone, the buckets come
        from per-day digests kept as runs are written (`source: summaries`, fast at any number of
        runs): whole UTC days (`since`/`until` widened, as the response says), one bucket per day or
        per several consecutive days, dated by their first day; after runs were changed or deleted,
        min and max may be wider than the remaining runs' until `flask rebuild-summaries`. Otherwise
        the runs are aggregated (`source: runs`).
        """
        _authorize(experiment_id)
        analytics = DriftAnalytics.from_app()
        if args.get("versus"):
            return analytics.versus(experiment_id, args["run_filter"], args["parameter"], args["versus"],
                                    args["points"])
        return analytics.series(experiment_id, args["run_filter"], args["parameter"], args["points"])


@blp.route("/heatmap")
class DriftHeatmapViews(MethodView):
    @blp.access(Access.ANYONE)
    @blp.arguments(HeatmapArgsSchema, **_query)
    @blp.response(200, HeatmapSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, experiment_id):
        """A per-feature statistic over time (Read)

        Reads the per-feature objects of `result`: those in `result`.parameters.features, e.g.
        `{"features": {"age": {"p_value": 0.01, "statistic": 0.2, "drifted": true}}}`, and (older
        layout) objects directly in `result`.parameters, e.g. `{"age": {"p_value": 0.01, "drift": true}}`.
        One cell per feature and time bucket: mean, min and max of the numeric `statistic`, the runs
        that had it, and how many of them flagged the feature (`drifted: true`, or `drift: true`).
        Features are ranked by most detections, then by the lowest mean p_value (for other
        statistics, the highest mean); `max_features` of them are returned.

        With filters on time, model and `detected` alone the cells come from per-day digests kept as
        runs are written (`source: summaries`, fast at any number of runs): the time window is then
        widened to whole UTC days (the response's `since`/`until`), and after runs were changed or
        deleted min and max may be wider than the remaining runs' until `flask rebuild-summaries`.
        Other filters aggregate the runs (`source: runs`, exact times, slower).
        """
        _authorize(experiment_id)
        return DriftAnalytics.from_app().heatmap(experiment_id, args["run_filter"], args["result"],
                                                 args["statistic"], args["interval"], args["max_features"])


@blp.route("/facets")
class DriftFacetsViews(MethodView):
    @blp.access(Access.ANYONE)
    @blp.arguments(FacetsArgsSchema, **_query)
    @blp.response(200, FacetsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, experiment_id):
        """What to offer in filter and parameter pickers (Read)

        Models are all of the experiment's; tags, numeric parameter paths, features and statistics
        are those found in up to `sample` of the most recent runs.
        """
        _authorize(experiment_id)
        return DriftAnalytics.from_app().facets(experiment_id, args["sample"])
