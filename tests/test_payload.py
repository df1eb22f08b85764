"""Provider JSON through pydantic models: every wrong shape is one line naming the key and place."""

from __future__ import annotations

import pytest

from monitor.errors import ParseError
from monitor.sources.payload import Payload, Text, Whole, read


class Row(Payload):
    id: Whole
    name: Text
    tags: list[str] | None = None


class Page(Payload):
    results: list[Row]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"results": [{"name": "a"}]}, "page1: results[0]: 'id' is missing"),
        ({"results": [{"id": 1, "name": None}]}, "page1: results[0]: 'name' is null"),
        ({"results": [{"id": 1, "name": ""}]}, "page1: results[0]: 'name' is empty"),
        (
            {"results": [{"id": "ten", "name": "a"}]},
            "page1: results[0]: 'id' is 'ten', expected a number",
        ),
        (
            {"results": [{"id": True, "name": "a"}]},
            "page1: results[0]: 'id' is True, expected a number",
        ),
        (
            {"results": [{"id": 1, "name": "a", "tags": "x"}]},
            "page1: results[0]: 'tags' is a string, expected a list",
        ),
        ({"results": ["oops"]}, "page1: results[0]: expected an object, got a string"),
        ({"results": {}}, "page1: 'results' is an object, expected a list"),
        ([], "page1: expected an object, got a list"),
    ],
)
def test_a_wrong_shape_is_one_line_naming_what_and_where(data: object, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        read(Page, data, "page1")
    assert str(caught.value) == message


def test_digits_are_numbers_and_numbers_are_text_where_providers_send_them_so() -> None:
    page = read(
        Page, {"results": [{"id": "21", "name": 1312, "extra": {"ignored": True}}]}, "page1"
    )
    assert (page.results[0].id, page.results[0].name) == (21, "1312")
