"""/api/auth: register, login, me, logout."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask_jwt_extended import create_access_token, get_jwt, jwt_required
from flask_limiter.util import get_remote_address

from .. import state
from ..domain_errors import LimitReached, Unauthorized
from ..errors import error_response
from ..extensions import db, jwt, limiter
from ..request_parsing import current_user_id
from ..schemas_common import Message, parse_body, respond
from . import cli, service
from .schemas import CurrentUser, LoggedIn, LoginRequest, Registered, RegisterRequest, User
from .throttle import LoginThrottle, LoginThrottled

bp = Blueprint("auth", __name__, url_prefix="/api/auth")
THROTTLE_KEY = "deepfake_login_throttle"


@bp.post("/register")
# Per client address. Invalid input (400) costs nothing and does not count; 409s do (name probing).
@limiter.limit(
    lambda: current_app.config["RATELIMIT_REGISTER"], deduct_when=lambda response: response.status_code != 400
)
def register():
    """Create an account."""
    form = parse_body(RegisterRequest)
    user = service.register_user(session=db.session, username=form.username, email=form.email, password=form.password)
    return respond(Registered(success=True, message="User registered successfully", user=User.of(user)), 201)


@bp.post("/login")
# Only failed attempts count (password guessing); once over the limit every attempt waits.
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], deduct_when=lambda response: response.status_code != 200)
def login():
    """Exchange username (or email) and password for a 24 h access token."""
    form = parse_body(LoginRequest)
    try:
        user = service.authenticate(
            session=db.session,
            username=form.username,
            password=form.password,
            throttle=current_app.extensions[THROTTLE_KEY],
            address=get_remote_address(),
        )
    except LoginThrottled as exc:
        # Retry-After: Flask-Limiter may raise it to the end of its own per-address window, never lower it.
        raise LimitReached(
            f"Too many failed logins for this account from your address; try again in {exc.retry_after} s",
            code="login_throttled",
            retry_after=exc.retry_after,
        ) from None
    if user is None:
        raise Unauthorized("Invalid username or password", code="invalid_credentials")
    token = create_access_token(identity=str(user.id))
    return respond(LoggedIn(success=True, access_token=token, user=User.of(user)))


@bp.get("/me")
@jwt_required()
def me():
    """The authenticated user."""
    user = service.get_user(session=db.session, user_id=current_user_id())
    if user is None:
        raise Unauthorized("User no longer exists", code="user_gone")
    return respond(CurrentUser(success=True, user=User.of(user)))


@bp.post("/logout")
@jwt_required()
def logout():
    """Revoke the token used for this request."""
    claims = get_jwt()
    service.revoke_token(store=state.revoked_tokens(), jti=claims["jti"], expires_epoch=claims["exp"])
    return respond(Message(success=True, message="Logged out"))


def init_app(app: Flask) -> None:
    """Register the blueprint, the login throttle and the JWT callbacks (JSON errors, revocation)."""
    app.register_blueprint(bp)
    app.cli.add_command(cli.grant_admin_command)
    app.cli.add_command(cli.revoke_admin_command)
    app.extensions[THROTTLE_KEY] = LoginThrottle.from_config(app.config)

    @jwt.token_in_blocklist_loader
    def _is_revoked(_header, payload) -> bool:
        # A token whose user is gone is as dead as a revoked one.
        return state.revoked_tokens().is_revoked(payload["jti"]) or not service.user_exists(payload.get("sub"))

    @jwt.unauthorized_loader
    def _missing(reason: str):
        return error_response(
            401, "Missing or malformed Authorization header (expected 'Bearer <token>')", code="token_missing"
        )

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        return error_response(401, "Invalid token", code="token_invalid")

    @jwt.expired_token_loader
    def _expired(_header, _payload):
        return error_response(401, "Token has expired, please log in again", code="token_expired")

    @jwt.revoked_token_loader
    def _revoked(_header, _payload):
        return error_response(401, "Token has been revoked, please log in again", code="token_revoked")

    @jwt.needs_fresh_token_loader
    def _not_fresh(_header, _payload):
        return error_response(401, "Fresh token required", code="token_not_fresh")

    @jwt.user_lookup_error_loader
    def _no_user(_header, _payload):
        return error_response(401, "User no longer exists", code="user_gone")
