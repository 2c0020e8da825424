"""Accounts: registration, authentication, token revocation."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..database import read_only
from ..domain_errors import Conflict, Forbidden, InvalidInput
from ..extensions import db
from ..state.interfaces import RevokedTokenStore
from .models import User
from .passwords import hash_password, password_problem, verify_password
from .throttle import LoginThrottle

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,80}$")
# The shape every accepted address has (declared in the OpenAPI document); email-validator decides the rest.
EMAIL_SHAPE_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
EMAIL_MAX_LENGTH = 120  # the column's size
# Compared against when the user does not exist, so unknown names take as long as wrong passwords.
_DUMMY_HASH = generate_password_hash("not-a-real-password-but-takes-as-long")


def register_user(*, session: Session, username: str, email: str, password: str) -> User:
    """Create a user after validating every field; 400 with field errors, 409 on duplicates."""
    errors: dict[str, str] = {}
    # fullmatch: `$` alone also matches before a trailing newline, which the documented pattern refuses.
    if not USERNAME_RE.fullmatch(username):
        errors["username"] = "Username must be 3-80 characters: letters, digits, '_', '.', '-'"
    normalized_email, email_problem = _normalize_email(email)
    if email_problem:
        errors["email"] = email_problem
    problem = password_problem(password, username=username, email=email)
    if problem:
        errors["password"] = problem
    if errors:
        raise InvalidInput(next(iter(errors.values())), fields=errors)
    # Hashed before the transaction: on SQLite it holds the write lock, and every writer waits for it.
    password_hash = hash_password(password)
    existing = session.execute(
        select(User.username, User.email).where(
            or_(func.lower(User.username) == username.lower(), func.lower(User.email) == normalized_email)
        )
    ).first()
    if existing is not None:
        session.rollback()
        raise _duplicate(username_taken=existing.username.lower() == username.lower())
    user = User(username=username, email=normalized_email, password_hash=password_hash)
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:
        # Two registrations raced past the check above; the database's unique indexes decided.
        session.rollback()
        raise _duplicate(username_taken=not _names_email(exc)) from exc
    return user


def _normalize_email(email: str) -> tuple[str, str | None]:
    """The address as stored (email-validator's normalized form, lower-cased), or why it is refused."""
    if not EMAIL_SHAPE_RE.fullmatch(email):
        return "", "Email address is not valid: expected name@domain.tld"
    try:
        # Syntax only: no DNS lookups (they would make sign-up depend on the network).
        normalized = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        return "", f"Email address is not valid: {exc}"
    if len(normalized) > EMAIL_MAX_LENGTH:
        return "", f"Email address must be at most {EMAIL_MAX_LENGTH} characters long"
    return normalized, None


def _names_email(exc: IntegrityError) -> bool:
    """True when the violated unique constraint is on the email (its name is in the first line)."""
    # Only the first line: PostgreSQL's DETAIL line quotes the value, which may contain anything.
    return "email" in str(exc.orig).splitlines()[0].lower()


def _duplicate(*, username_taken: bool) -> Conflict:
    """The 409 for an existing username or email."""
    if username_taken:
        return Conflict("Username already exists", code="username_taken", fields={"username": "Already taken"})
    return Conflict("Email already registered", code="email_taken", fields={"email": "Already registered"})


def authenticate(
    *, session: Session, username: str, password: str, throttle: LoginThrottle, address: str
) -> User | None:
    """The user whose username or email (either ignoring case) and password match, else None.

    Raises LoginThrottled, without checking the password, when this address must wait (see throttle.py).
    """
    # Usernames cannot contain "@" and emails must, so one login matches at most one user.
    login = username.strip().lower()
    # A read-only transaction, ended before the slow hash check: on SQLite it takes no write lock.
    session.connection(execution_options=read_only())
    user = session.execute(
        select(User).where(or_(func.lower(User.username) == login, func.lower(User.email) == login))
    ).scalar_one_or_none()
    session.commit()
    # Unknown names are throttled like accounts, under the name itself: answers reveal nothing.
    account = f"user:{user.id}" if user is not None else f"login:{login}"
    throttle.check(account=account, address=address)
    if user is None:
        verify_password(_DUMMY_HASH, password)
    elif verify_password(user.password_hash, password):
        return user
    throttle.record_failure(account=account, address=address)
    return None


def get_user(*, session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def find_user(*, session: Session, username: str) -> User | None:
    """The account named username (any case), or None."""
    named = func.lower(User.username) == username.strip().lower()
    return session.execute(select(User).where(named)).scalar_one_or_none()


def set_admin(*, session: Session, username: str, admin: bool) -> User | None:
    """Grant (or take back) the administrator role of the account named username (any case); None if none."""
    user = find_user(session=session, username=username)
    if user is None:
        session.rollback()
        return None
    user.is_admin = admin
    session.commit()
    return user


def require_admin(*, session: Session, user_id: int) -> User:
    """The user, when an administrator; Forbidden otherwise."""
    user = session.get(User, user_id)
    if user is None or not user.is_admin:
        raise Forbidden("Only an administrator can do this (an operator grants the role with grant-admin)")
    return user


def user_exists(subject: Any) -> bool:
    """True when a JWT subject names an existing user (own short connection, no request transaction)."""
    try:
        user_id = int(subject)
    except (TypeError, ValueError):
        return False
    with db.engine.connect() as conn:
        # Read-only: on SQLite the check must not queue behind writers for the write lock.
        conn.execution_options(**read_only())
        return conn.execute(select(User.id).where(User.id == user_id)).first() is not None


def revoke_token(*, store: RevokedTokenStore, jti: str, expires_epoch: int) -> None:
    """Revoke a token until its own expiry."""
    store.revoke(jti, datetime.fromtimestamp(expires_epoch, tz=timezone.utc))
