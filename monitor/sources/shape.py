"""Checks for JSON answers whose shape changed: one precise ``ParseError`` instead of a crash.

Providers change shape without notice: a key renamed or dropped, ``null`` where a value was,
a list where an object was, a number sent as a word, an HTML error page served with 200 and a
JSON content type. A parser that indexes blindly then fails with a bare ``KeyError`` or
``TypeError``, or worse stores an item titled "None". These helpers name what was wrong and
where (``page1: results[0]: 'id' is missing``) so ``monitor status`` says it, and the poll
is refused whole: nothing from a misshapen answer is stored.
"""

from __future__ import annotations

import json
from typing import Any

from monitor.errors import ParseError

_NAMES: dict[type, str] = {dict: "an object", list: "a list", str: "a string", int: "a number",
                           float: "a number", bool: "a boolean", type(None): "null"}


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


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{where}: expected an object, got {json_type(value)}")
    return value


def object_list(value: Any, where: str) -> list[dict[str, Any]]:
    """A list whose every element is an object (``results``, ``actions`` …)."""
    if not isinstance(value, list):
        raise ParseError(f"{where}: expected a list, got {json_type(value)}")
    for i, element in enumerate(value):
        as_object(element, f"{where}[{i}]")
    return value


def require(record: dict[str, Any], key: str, where: str) -> Any:
    """A value that must be present and not null or empty."""
    if key not in record:
        raise ParseError(f"{where}: {key!r} is missing")
    value = record[key]
    if value is None or value == "":
        raise ParseError(f"{where}: {key!r} is {'null' if value is None else 'empty'}")
    return value


def text(record: dict[str, Any], key: str, where: str) -> str:
    """A required string (a title, an identifier); a number is accepted as its digits."""
    value = require(record, key, where)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ParseError(f"{where}: {key!r} is {json_type(value)}, expected a string")
    return str(value)


def integer(record: dict[str, Any], key: str, where: str) -> int:
    """A required whole number; providers send some as strings of digits (congress.gov's ``number``)."""
    value = require(record, key, where)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ParseError(f"{where}: {key!r} is {value!r}, expected a number")


def optional(record: dict[str, Any], key: str, where: str, kind: type) -> Any:
    """A value that may be absent or null but, when present, has the expected type."""
    value = record.get(key)
    if value is None or isinstance(value, kind):
        return value
    raise ParseError(f"{where}: {key!r} is {json_type(value)}, expected {_NAMES.get(kind, kind.__name__)}")
