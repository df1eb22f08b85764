"""Provider JSON read through pydantic models: a changed shape is one precise ``ParseError``.

Providers change shape without notice: a key renamed or dropped, ``null`` where a value was, a
list where an object was, a number sent as a word, an HTML error page served with 200 and a
JSON content type. Each source module declares the part of its provider's answer it reads as
a ``Payload`` model; ``read`` validates a decoded answer against it and turns the first
problem pydantic finds into one line that names what was wrong and where
(``page1: results[0]: 'cluster_id' is missing``), so ``monitor status`` says it and the poll
is refused whole: nothing from a misshapen answer is stored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from monitor.errors import ParseError

_NAMES: dict[type, str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


class Payload(BaseModel):
    """A provider's JSON object: the fields we read are declared, the rest are ignored.

    Numbers sent where a string is expected (an identifier sent as ``12``) are read as their
    digits; every other mismatch is an error.
    """

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


def _whole(value: Any) -> Any:
    """A boolean is not a count, whatever Python thinks; digit strings are (congress.gov's)."""
    if isinstance(value, bool):
        raise ValueError("a boolean")  # noqa: TRY004 -- pydantic reports ValueError, not TypeError
    return value


Whole = Annotated[int, BeforeValidator(_whole)]  # a required number: ``12`` or ``"12"``
Text = Annotated[str, Field(min_length=1)]  # a required string that must not be empty

Model = TypeVar("Model", bound=BaseModel)


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    return _NAMES.get(type(value), type(value).__name__)


def load_json(body: bytes, where: str) -> Any:
    """The decoded body, or a ParseError saying it is not JSON (an HTML error page, say)."""
    try:
        return json.loads(body)
    except ValueError as exc:
        start = body[:60].decode("utf-8", "replace").strip()
        hint = " (an HTML page)" if start[:1] == "<" else ""
        raise ParseError(f"{where}: not JSON{hint}: {exc}") from None


def read(model: type[Model], data: Any, where: str) -> Model:
    """``data`` as ``model``, or a ParseError about the first thing that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ParseError(describe(exc.errors()[0], where)) from None


def _place(loc: tuple[int | str, ...]) -> str:
    """``("results", 0, "actions", 1)`` -> ``results[0]: actions[1]``."""
    parts: list[str] = []
    for step in loc:
        if isinstance(step, int) and parts:
            parts[-1] += f"[{step}]"
        else:
            parts.append(str(step))
    return ": ".join(parts)


def describe(error: ErrorDetails, where: str) -> str:
    """One pydantic error in the words a reader of ``monitor status`` needs."""
    loc, kind, value = error["loc"], error["type"], error.get("input")
    key = loc[-1] if loc and isinstance(loc[-1], str) else None
    place = _place(loc[:-1] if key is not None else loc)
    prefix = ": ".join(p for p in (where, place) if p)
    if kind == "missing":
        problem = f"{key!r} is missing"
    elif value is None:
        problem = f"{key!r} is null"
    elif kind == "string_too_short" and value == "":
        problem = f"{key!r} is empty"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        problem = (
            f"{key!r} is {json_type(value)}, expected an object"
            if key
            else f"expected an object, got {json_type(value)}"
        )
    elif kind == "list_type":
        problem = (
            f"{key!r} is {json_type(value)}, expected a list"
            if key
            else f"expected a list, got {json_type(value)}"
        )
    elif kind == "string_type":
        problem = f"{key!r} is {json_type(value)}, expected a string"
    elif kind.startswith(("int_", "value_error")) or kind == "int_type":
        problem = f"{key!r} is {value!r}, expected a number"
    else:
        problem = f"{key!r}: {error['msg']}" if key else error["msg"]
    return f"{prefix}: {problem}" if prefix else problem
