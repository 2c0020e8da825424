"""Accounts: registration, authentication, token revocation."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import ApiError
from .models import User
from .passwords import password_problem

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,80}$")
# Deliberately loose: one @, something on each side, a dot in the domain. Mail delivery is the real test.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# Compared against when the user does not exist, so unknown names take as long as wrong passwords.
_DUMMY_HASH = generate_password_hash("not-a-real-password-but-takes-as-long")


def register_user(*, session: Session, username: str, email: str, password: str) -> User:
    """Create a user after validating every field; 400 with field errors, 409 on duplicates."""
    errors: dict[str, str] = {}
    # fullmatch: `$` alone also matches before a trailing newline, which the documented pattern refuses.
    if not USERNAME_RE.fullmatch(username):
        errors["username"] = "Username must be 3-80 characters: letters, digits, '_', '.', '-'"
    if len(email) > 120 or not EMAIL_RE.fullmatch(email):
        errors["email"] = "Email address is not valid"
    problem = password_problem(password, username=username, email=email)
    if problem:
        errors["password"] = problem
    if errors:
        raise ApiError(400, next(iter(errors.values())), errors=errors)
    email = email.lower()
    existing = session.execute(
        select(User.username, User.email).where(
            or_(func.lower(User.username) == username.lower(), func.lower(User.email) == email)
        )
    ).first()
    if existing is not None:
        raise _duplicate(username_taken=existing.username.lower() == username.lower())
    user = User(username=username, email=email, password_hash=generate_password_hash(password))
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:
        # Two registrations raced past the check above; the database's unique indexes decided.
        session.rollback()
        raise _duplicate(username_taken=not _names_email(exc)) from exc
    return user


def _names_email(exc: IntegrityError) -> bool:
    """True when the violated unique constraint is on the email (its name is in the first line)."""
    # Only the first line: PostgreSQL's DETAIL line quotes the value, which may contain anything.
    return "email" in str(exc.orig).splitlines()[0].lower()


def _duplicate(*, username_taken: bool) -> ApiError:
    """The 409 for an existing username or email."""
    if username_taken:
        return ApiError(409, "Username already exists", errors={"username": "Already taken"})
    return ApiError(409, "Email already registered", errors={"email": "Already registered"})


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """The user whose username or email (either ignoring case) and password match, else None."""
    # Usernames cannot contain "@" and emails must, so one login matches at most one user.
    login = username.strip().lower()
    user = session.execute(
        select(User).where(or_(func.lower(User.username) == login, func.lower(User.email) == login))
    ).scalar_one_or_none()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def get_user(*, session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def user_exists(subject) -> bool:
    """True when a JWT subject names an existing user (own short connection, no request transaction)."""
    from ..extensions import db

    try:
        user_id = int(subject)
    except (TypeError, ValueError):
        return False
    with db.engine.connect() as conn:
        return conn.execute(select(User.id).where(User.id == user_id)).first() is not None


def revoke_token(*, store, jti: str, expires_epoch: int) -> None:
    """Revoke a token until its own expiry."""
    store.revoke(jti, datetime.fromtimestamp(expires_epoch, tz=timezone.utc))
