"""/user: register the token's user, read or refresh it, and (admins) search users."""

import flask
from flask.views import MethodView

from ...errors import Forbidden
from ...extensions.smorest import Access, Blueprint
from ...permissions import resolve_caller
from ...repositories.users import Users
from ..common import search_page
from .schemas import UserFilterSchema, UserSchema, UserSortArgsSchema

blp = Blueprint("users", __name__, url_prefix="/user", description="Users registered from their tokens")


@blp.route("")
class UserViews(MethodView):
    @blp.access(Access.TOKEN)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self):
        """Register the token's user

        Takes no body: issuer, subject and email come from the token. When
        `APP_USERS_ENTITLEMENTS` is set, only holders of one of them may register.
        """
        identity = resolve_caller().require_token()
        required = flask.current_app.extensions["settings"].users_entitlements
        if required and not identity.entitlements & required:
            raise Forbidden("your token carries none of the entitlements required to register")
        return Users.from_app().register(identity)


@blp.route("/self")
class UserSelfViews(MethodView):
    @blp.access(Access.REGISTERED)
    @blp.response(200, UserSchema)
    def get(self):
        """Read your own user record"""
        return Users.from_app().get(resolve_caller().user_id)

    @blp.access(Access.REGISTERED)
    @blp.response(200, UserSchema)
    def put(self):
        """Refresh your own user record from the token (e.g. a changed email)"""
        caller = resolve_caller()
        return Users.from_app().refresh(caller.user_id, caller.identity)


@blp.route("/search")
class UserSearchViews(MethodView):
    @blp.access(Access.ADMIN)
    @blp.arguments(UserSortArgsSchema, location="query")
    @blp.arguments(UserFilterSchema)
    @blp.response(200, UserSchema(many=True))
    @blp.paginate()
    def post(self, sort_args, user_filter, pagination_parameters):
        """Search users (administrators)"""
        users, total = Users.from_app().search(search_page(user_filter, sort_args, pagination_parameters))
        pagination_parameters.item_count = total
        return users
