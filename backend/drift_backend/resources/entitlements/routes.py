"""/entitlement: what groups the caller belongs to (usable as permission entities)."""

from flask.views import MethodView

from ...extensions.smorest import Access, Blueprint
from ...permissions import resolve_caller
from .schemas import EntitlementsSchema

blp = Blueprint("entitlements", __name__, url_prefix="", description="Entitlements (groups) of the caller")


def _entitlements():
    return {"items": sorted(resolve_caller().require_token().entitlements)}


@blp.route("/entitlement")
class EntitlementViews(MethodView):
    @blp.access(Access.TOKEN)
    @blp.response(200, EntitlementsSchema)
    def get(self):
        """List the entitlements of your token"""
        return _entitlements()


@blp.route("/entitlements")
class EntitlementsAliasViews(MethodView):
    @blp.access(Access.TOKEN)
    @blp.response(200, EntitlementsSchema)
    @blp.doc(deprecated=True)
    def get(self):
        """Alias of GET /entitlement, called by drift-monitor client 1.1"""
        return _entitlements()
