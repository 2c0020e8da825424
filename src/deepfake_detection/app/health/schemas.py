"""The answer shape of /api/health (serialisation and the OpenAPI document come from it).

Not to be confused with health/schema.py, which checks the database schema's migration state.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..schemas_common import ResponseModel


class DatabaseStatus(ResponseModel):
    """Whether the database answers, and which one it is."""

    ok: bool
    backend: str


class SchemaStatus(ResponseModel):
    """Whether the database's migration revision is the code's (null revisions: the database did not answer)."""

    ok: bool
    revision: list[str] | None
    head: list[str] | None


class CachedModel(ResponseModel):
    """A detector and whether its weights are in the model cache."""

    key: str
    model_id: str
    cached: bool
    default: bool


class Health(ResponseModel):
    """200 (and, with success false, 503) of GET /api/health."""

    success: bool
    status: Literal["ok", "degraded", "error"]
    database: DatabaseStatus
    schema_state: SchemaStatus = Field(alias="schema")
    models: list[CachedModel]
    models_cached: int
    jobs_backend: str
    mode: str
    message: str = Field(default="", description="what to do, when something is wrong")
    command: str = Field(default="", description="the command that fixes it, when there is one")
