"""/experiment: create, search, read, change and delete experiments and their permissions."""

from flask.views import MethodView

from ...errors import InvalidInput
from ...extensions.smorest import Access, Blueprint
from ...permissions import Level, level_on, require_level, resolve_caller
from ...quotas import check_experiment_quota
from ...repositories.experiments import Experiments
from ...repositories.summaries import DriftSummaries
from ..common import search_page
from .schemas import (
    ExperimentCreateSchema,
    ExperimentFilterSchema,
    ExperimentPatchSchema,
    ExperimentSchema,
    ExperimentSearchArgsSchema,
)

blp = Blueprint("experiments", __name__, url_prefix="/experiment", description="Experiments and their permissions")


def _as_seen_by(caller, experiment: dict) -> dict:
    """Permission lists are shown only to those who manage the experiment, the owner also to the owner."""
    if level_on(caller, experiment) == Level.MANAGE:
        return experiment
    hidden = {"permissions"}
    if caller.user_id is None or experiment.get("owner") != caller.user_id:
        hidden.add("owner")
    return {key: value for key, value in experiment.items() if key not in hidden}


def _check_still_managed(permissions: list[dict]) -> None:
    if not any(permission["level"] == Level.MANAGE.label for permission in permissions):
        raise InvalidInput(
            "at least one entity must keep Manage permission",
            errors={"json": {"permissions": ["no entity with Manage permission"]}},
        )


@blp.route("")
class ExperimentViews(MethodView):
    @blp.access(Access.REGISTERED)
    @blp.arguments(ExperimentCreateSchema)
    @blp.response(201, ExperimentSchema)
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, fields):
        """Create an experiment

        The creator becomes its `owner` and is given Manage permission. Names are unique per owner:
        409 only when you already own an experiment of that name; other users' names do not matter.
        429 (with Retry-After) when you own APP_QUOTA_EXPERIMENTS_PER_USER experiments already.
        """
        user_id = resolve_caller().require_registered()
        check_experiment_quota(user_id)
        others = [permission for permission in fields["permissions"] if permission["entity"] != user_id]
        fields["permissions"] = [*others, {"entity": user_id, "level": Level.MANAGE.label}]
        return Experiments.from_app().create(fields, owner=user_id)


@blp.route("/search")
class ExperimentSearchViews(MethodView):
    @blp.access(Access.ANYONE)
    @blp.arguments(ExperimentSearchArgsSchema, location="query")
    @blp.arguments(ExperimentFilterSchema)
    @blp.response(200, ExperimentSchema(many=True))
    @blp.paginate()
    def post(self, search_args, experiment_filter, pagination_parameters):
        """Search the experiments you may read

        Public experiments, those you hold a permission on, or all for administrators.
        Conditions on `permissions.*` match only among experiments you manage, conditions on `owner`
        only among those you manage or own (`{"owner": <your user id>}` lists your own).
        `permissions.*` and `owner` cannot be sorted by.
        With `with_stats=true` each experiment carries `stats` of its drift runs.
        """
        caller = resolve_caller()
        page = search_page(experiment_filter, search_args, pagination_parameters)
        experiments, total = Experiments.from_app().search_visible(caller, page)
        pagination_parameters.item_count = total
        if search_args["with_stats"]:
            stats = DriftSummaries.from_app().experiment_stats(experiment["_id"] for experiment in experiments)
            experiments = [{**experiment, "stats": stats[experiment["_id"]]} for experiment in experiments]
        return [_as_seen_by(caller, experiment) for experiment in experiments]


@blp.route("/<experiment_id>")
class ExperimentByIdViews(MethodView):
    @blp.access(Access.ANYONE)
    @blp.response(200, ExperimentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, experiment_id):
        """Read an experiment (Read)"""
        caller = resolve_caller()
        experiment = Experiments.from_app().get(experiment_id)
        require_level(caller, experiment, Level.READ)
        return _as_seen_by(caller, experiment)

    @blp.access(Access.TOKEN)
    @blp.arguments(ExperimentCreateSchema)
    @blp.response(200, ExperimentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, fields, experiment_id):
        """Replace an experiment (Manage)"""
        return self._update(experiment_id, fields)

    @blp.access(Access.TOKEN)
    @blp.arguments(ExperimentPatchSchema)
    @blp.response(200, ExperimentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, fields, experiment_id):
        """Change some fields of an experiment (Manage)"""
        return self._update(experiment_id, fields)

    @blp.access(Access.TOKEN)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, experiment_id):
        """Delete an experiment and all its drift runs (Manage)"""
        experiments = Experiments.from_app()
        require_level(resolve_caller(), experiments.get(experiment_id), Level.MANAGE)
        experiments.delete(experiment_id)

    @staticmethod
    def _update(experiment_id: str, fields: dict) -> dict:
        caller = resolve_caller()
        experiments = Experiments.from_app()
        require_level(caller, experiments.get(experiment_id), Level.MANAGE)
        if "permissions" in fields:
            _check_still_managed(fields["permissions"])
        return experiments.update(experiment_id, fields)
