"""Request and answer shapes of /api/auth (validation, serialisation and the OpenAPI document come from them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import Field

from ..openapi.patterns import around_spaces, portable
from ..schemas_common import Doc, RawText, RequestModel, ResponseModel, Text
from ..serialization import iso
from .passwords import MAX_LENGTH as PASSWORD_MAX
from .passwords import MIN_LENGTH as PASSWORD_MIN
from .service import EMAIL_MAX_LENGTH, EMAIL_SHAPE_RE, USERNAME_RE

if TYPE_CHECKING:
    from .models import User as UserRow


class RegisterRequest(RequestModel):
    """POST /api/auth/register."""

    # The patterns and lengths are checked by the service, which reports every field at fault at once.

    username: Annotated[Text, Doc(pattern=portable(around_spaces(USERNAME_RE.pattern)))]
    email: Annotated[
        Text,
        Doc(
            pattern=portable(around_spaces(EMAIL_SHAPE_RE.pattern)),
            maxLength=EMAIL_MAX_LENGTH,
            description="also checked by email-validator (syntax only)",
        ),
    ]
    # Not stripped: spaces are legitimate password characters.
    password: Annotated[
        RawText,
        Doc(
            minLength=PASSWORD_MIN,
            maxLength=PASSWORD_MAX,
            description="also refused: one of the 30,000 most common passwords, "
            "a single repeated character, or the username or email",
        ),
    ]
    messages: ClassVar[dict[str, tuple[str, str]]] = {"password": ("password is required", "This field is required")}


class LoginRequest(RequestModel):
    """POST /api/auth/login."""

    username: Annotated[Text, Field(description="the username or the email, in any case")]
    password: Annotated[RawText, Field(min_length=1)]
    messages: ClassVar[dict[str, tuple[str, str]]] = {"password": ("password is required", "This field is required")}


class User(ResponseModel):
    """The documented user object (id, username, email) plus created_at and is_admin."""

    id: int
    username: str
    email: str
    created_at: str | None
    is_admin: bool = Field(description="an administrator (granted with `flask grant-admin`) may manage calibrations")

    @classmethod
    def of(cls, user: UserRow) -> User:
        """The user row as the answer shape."""
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            created_at=iso(user.created_at),
            is_admin=bool(user.is_admin),
        )


class Registered(ResponseModel):
    """201 of POST /api/auth/register."""

    success: bool
    message: str
    user: User


class LoggedIn(ResponseModel):
    """200 of POST /api/auth/login."""

    success: bool
    access_token: str
    user: User


class CurrentUser(ResponseModel):
    """200 of GET /api/auth/me."""

    success: bool
    user: User
