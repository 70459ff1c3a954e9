"""/experiment/<id>/drift: drift runs of an experiment."""

from flask.views import MethodView

from ...extensions.smorest import Access, Blueprint
from ...permissions import Level, require_level, resolve_caller
from ...quotas import count_drift_run
from ...repositories.drifts import DriftRuns
from ...repositories.experiments import Experiments
from ..common import search_page
from .schemas import (
    DriftCreateSchema,
    DriftFilterSchema,
    DriftPatchSchema,
    DriftReplaceSchema,
    DriftSchema,
    DriftSearchArgsSchema,
)

blp = Blueprint(
    "drifts", __name__, url_prefix="/experiment/<experiment_id>/drift", description="Drift runs of an experiment"
)


def _authorize(experiment_id: str, needed: Level) -> None:
    require_level(resolve_caller(), Experiments.from_app().get(experiment_id), needed)


@blp.route("")
class DriftViews(MethodView):
    @blp.access(Access.TOKEN)
    @blp.arguments(DriftCreateSchema)
    @blp.response(201, DriftSchema)
    @blp.alt_response(200, schema=DriftSchema, description="Replay of a run already stored with this id", success=True)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, fields, experiment_id):
        """Report a drift run (Edit)

        429 (with Retry-After) past APP_QUOTA_RUNS_PER_MINUTE runs reported by you this minute.
        """
        _authorize(experiment_id, Level.EDIT)
        count_drift_run(resolve_caller())
        run_id, created_at = fields.pop("id", None), fields.pop("created_at", None)
        run, created = DriftRuns.from_app().create(experiment_id, fields, run_id, created_at)
        return run, 201 if created else 200


@blp.route("/search")
class DriftSearchViews(MethodView):
    @blp.access(Access.ANYONE)
    @blp.arguments(DriftSearchArgsSchema, location="query")
    @blp.arguments(DriftFilterSchema)
    @blp.response(200, DriftSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.paginate()
    def post(self, query_args, drift_filter, experiment_id, pagination_parameters):
        """Search the drift runs of an experiment (Read)

        The runs must match both the body's filter and the run filter of the query arguments
        (`since`, `until`, `model`, `tag`, `job_status`, `drift_type`, `detected`), which select
        exactly the runs the overviews (`…/drift/summary`, `series`, `heatmap`) count with the same
        arguments; e.g. `?model=a&model=b&since=2026-05-01&detected=true` with the body `{}`.
        The total is in the `X-Pagination` header.
        """
        _authorize(experiment_id, Level.READ)
        page = search_page(drift_filter, query_args, pagination_parameters)
        runs, total = DriftRuns.from_app().search(experiment_id, page, query_args["run_filter"])
        pagination_parameters.item_count = total
        return runs


@blp.route("/<drift_id>")
class DriftByIdViews(MethodView):
    @blp.access(Access.ANYONE)
    @blp.response(200, DriftSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, experiment_id, drift_id):
        """Read a drift run (Read)"""
        _authorize(experiment_id, Level.READ)
        return DriftRuns.from_app().get(experiment_id, drift_id)

    @blp.access(Access.TOKEN)
    @blp.arguments(DriftReplaceSchema)
    @blp.response(200, DriftSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, fields, experiment_id, drift_id):
        """Replace a drift run, e.g. to mark it Completed or Failed (Edit)

        A finished run (Completed or Failed) cannot change its job status again (409).
        """
        _authorize(experiment_id, Level.EDIT)
        return DriftRuns.from_app().replace(experiment_id, drift_id, fields)

    @blp.access(Access.TOKEN)
    @blp.arguments(DriftPatchSchema)
    @blp.response(200, DriftSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, fields, experiment_id, drift_id):
        """Change some fields of a drift run (Edit)"""
        _authorize(experiment_id, Level.EDIT)
        return DriftRuns.from_app().update(experiment_id, drift_id, fields)

    @blp.access(Access.TOKEN)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, experiment_id, drift_id):
        """Delete a drift run (Edit)"""
        _authorize(experiment_id, Level.EDIT)
        DriftRuns.from_app().delete(experiment_id, drift_id)
