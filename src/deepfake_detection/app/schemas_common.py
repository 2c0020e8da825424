"""Request and response shapes declared once (pydantic): parsing, serialising and the OpenAPI schema all come from them.

A request model validates a JSON body (`parse_body`) or a query string (`parse_query`); its first error becomes
the InvalidInput the API has always answered. A response model serialises an answer (`respond`). `openapi_schema`
turns a model's JSON Schema into OpenAPI 3.0 (the version the document declares), so every constraint a model
enforces appears in /api/openapi.json by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from flask import Response, jsonify
from pydantic import BaseModel, BeforeValidator, ConfigDict, GetJsonSchemaHandler, Strict, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from .domain_errors import InvalidInput
from .openapi.patterns import portable
from .request_parsing import INTEGER_RE, json_object, query_value


class RequestModel(BaseModel):
    """A request shape: unknown fields are ignored; `messages` rewords every error of a field (message, field text)."""

    model_config = ConfigDict(extra="ignore")
    messages: ClassVar[dict[str, tuple[str, str]]] = {}


M = TypeVar("M", bound=RequestModel)


class ResponseModel(BaseModel):
    """An answer shape (serialised with `respond`, fields the answer did not set are left out)."""

    model_config = ConfigDict(populate_by_name=True)


class StoredJson(ResponseModel):
    """A shape kept as JSON in a column: answered as stored (extra keys kept, absent keys stay absent)."""

    model_config = ConfigDict(extra="allow")


def _present(value: Any) -> Any:
    """Absent, null and "" (after stripping) are all "missing"."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        raise PydanticCustomError("missing", "Field required")
    return value


def _given(value: Any) -> Any:
    """Absent, null and "" are "missing" (the value is not stripped)."""
    if value is None or value == "":
        raise PydanticCustomError("missing", "Field required")
    return value


def _query_integer(value: Any) -> Any:
    # Plain ASCII digits only: int() would also take " 5", "1_000" and other scripts' digits.
    if isinstance(value, str):
        if not INTEGER_RE.fullmatch(value):
            raise PydanticCustomError("int_parsing", "Must be an integer")
        return int(value)
    return value


def _zero_when_null(value: Any) -> Any:
    # Documented numbers keep their type whatever a row holds: clients call number methods on them
    # (e.g. `confidence.toFixed(1)`), so an empty column is answered as 0, never null.
    return 0 if value is None else value


def _empty_when_null(value: Any) -> Any:
    return "" if value is None else value


class Doc:
    """Annotation: JSON Schema keywords describing a check made in code (built from the values that code uses)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), **self.keywords}


# A string with at least one character that is not white space (what `Text` leaves after stripping).
NOT_BLANK = Doc(minLength=1, pattern=portable(r"\S"))
# A required string, stripped (forms send a trailing space from a phone keyboard); null and blank are missing.
Text = Annotated[str, Strict(), BeforeValidator(_present), NOT_BLANK]
# A required string taken as sent (passwords: spaces are legitimate characters).
RawText = Annotated[str, Strict(), BeforeValidator(_given)]
# An integer query parameter (ASCII digits): `Annotated[int, Strict(), Field(ge=..., le=...), QUERY_INTEGER]`
# (the bounds before the conversion, so they are the integer's own and appear in the document).
QUERY_INTEGER = BeforeValidator(_query_integer)
# Answer fields: a documented number, integer or string is never null.
Number = Annotated[float, BeforeValidator(_zero_when_null)]
Integer = Annotated[int, BeforeValidator(_zero_when_null)]
Flag = Annotated[bool, BeforeValidator(bool)]
String = Annotated[str, BeforeValidator(_empty_when_null)]


@dataclass(frozen=True)
class OneOf:
    """Annotation: the string must be one of `values` (declared as an enum; the values may be computed)."""

    values: tuple[str, ...]

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.literal_schema(list(self.values))


@dataclass(frozen=True)
class ModelKeyField:
    """Annotation: a model key. Its enum is the running engine's keys, filled in when the document is built."""

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", MODEL_KEY_MARK: True}


MODEL_KEY_MARK = "x-model-key"


class Error(ResponseModel):
    """Every error answer."""

    success: Literal[False]
    message: str
    code: str = ""
    errors: dict[str, str] = {}


class Message(ResponseModel):
    """An answer that only says what was done."""

    success: bool
    message: str


def _error_text(model: type[RequestModel], error: Any) -> InvalidInput:
    """The InvalidInput for pydantic's first error, in the words the API has always used."""
    name = str(error["loc"][0]) if error["loc"] else "body"
    if name in model.messages:
        message, field = model.messages[name]
    elif error["type"] == "missing":
        message, field = f"{name} is required", "This field is required"
    elif error["type"] in ("string_type", "str_type"):
        message, field = f"{name} must be a string", "Must be a string"
    elif error["type"] in ("int_parsing", "int_type", "int_from_float"):
        message, field = f"{name} must be an integer", "Must be an integer"
    elif error["type"] in ("greater_than_equal", "less_than_equal"):
        bounds = _bounds(model, name)
        message, field = f"{name} must be {bounds}", f"Must be {bounds}"
    elif error["type"] == "literal_error":
        message, field = f"{name} must be one of: {error['ctx']['expected']}", "Invalid value"
    else:
        message, field = f"{name}: {error['msg']}", error["msg"]
    return InvalidInput(message, fields={name: field})


def _bounds(model: type[RequestModel], name: str) -> str:
    """The field's declared range, as the document states it."""
    schema, _ = openapi_schema(model, mode="validation", model_key={})
    field = schema["properties"][name]
    return f"between {field['minimum']} and {field['maximum']}"


def validate(model: type[M], data: dict[str, Any]) -> M:
    """The data as the model, or the InvalidInput naming the first field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _error_text(model, exc.errors()[0]) from None


def parse_body(model: type[M]) -> M:
    """The JSON body as the model, or a 400."""
    return validate(model, json_object())


def parse_query(model: type[M]) -> M:
    """The query string as the model (each parameter at most once), or a 400."""
    data = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        value = query_value(key)
        if value is not None:
            data[key] = value
    return validate(model, data)


def dump(answer: BaseModel) -> dict[str, Any]:
    """The answer as JSON-ready data (fields the answer did not set, e.g. absent stored keys, left out)."""
    return answer.model_dump(mode="json", by_alias=True, exclude_unset=True)


def respond(answer: BaseModel, status: int = 200) -> Response:
    """A JSON response of the answer."""
    response = jsonify(dump(answer))
    response.status_code = status
    return response


# JSON Schema (what pydantic writes) -> OpenAPI 3.0 (what the document declares).
REF_TEMPLATE = "#/components/schemas/{model}"
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONES = ("items", "additionalProperties", "not")


def to_openapi(schema: Any, *, model_key: dict[str, Any], answer: bool = False) -> Any:
    """A JSON Schema node as OpenAPI 3.0: null unions become `nullable`, `const` an enum, titles dropped.

    In an answer's schema defaults are dropped too: they are how a model marks a field the answer may leave out.
    """
    if not isinstance(schema, dict):
        return schema
    if schema.get(MODEL_KEY_MARK):
        schema = {**{k: v for k, v in schema.items() if k != MODEL_KEY_MARK}, **model_key}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (answer and key == "default"):
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: to_openapi(sub, model_key=model_key, answer=answer) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [to_openapi(sub, model_key=model_key, answer=answer) for sub in value]
        elif key in _SCHEMA_ONES:
            out[key] = to_openapi(value, model_key=model_key, answer=answer)
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = value
    options = out.get("anyOf")
    if options is not None and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del out["anyOf"]
        merged = rest[0] if len(rest) == 1 else {"anyOf": rest}
        if "$ref" in merged:
            merged = {"allOf": [merged]}
        out = {**merged, **out, "nullable": True}
    return out


def openapi_schema(
    model: type[BaseModel], *, mode: Literal["validation", "serialization"], model_key: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's OpenAPI 3.0 schema and the schemas it refers to (to register as components)."""
    raw = model.model_json_schema(ref_template=REF_TEMPLATE, mode=mode)
    schema = to_openapi(raw, model_key=model_key, answer=mode == "serialization")
    return schema, schema.pop("$defs", {})
