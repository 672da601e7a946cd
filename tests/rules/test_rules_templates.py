"""Label templates are split into text and property parts; braces that are not placeholders stay text."""

from __future__ import annotations

import pytest

from rules.templates import TemplateError, TemplatePart, parse_template


@pytest.mark.parametrize(
    ("template", "parts"),
    [
        ("Selected product: {product_name}", [("text", "Selected product: "), ("property", "product_name")]),
        (
            "Submitted {form_name} form",
            [("text", "Submitted "), ("property", "form_name"), ("text", " form")],
        ),
        ("{a}{b}", [("property", "a"), ("property", "b")]),
        (
            "{$host} and {data-ph-capture-attribute-nav}",
            [
                ("property", "$host"),
                ("text", " and "),
                ("property", "data-ph-capture-attribute-nav"),
            ],
        ),
        ("Plain text", [("text", "Plain text")]),
        ("{{ config() }}", [("text", "{{ config() }}")]),
        ("Opened {{ {page} }}", [("text", "Opened {{ "), ("property", "page"), ("text", " }}")]),
        ("'; drop table x; --", [("text", "'; drop table x; --")]),
    ],
)
def test_template_parts(template: str, parts: list[tuple[str, str]]) -> None:
    assert parse_template(template) == [TemplatePart(kind, value) for kind, value in parts]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Hello {name", "unbalanced '{' at character 7"),
        ("Hello name}", "unbalanced '}' at character 11"),
        ("Hello {}", "empty placeholder"),
        ("Hello { }", "empty placeholder"),
        ("Hello {first name}", "not a simple property key"),
        ("Hello {a.b}", "not a simple property key"),
        ("Hello {a'b}", "not a simple property key"),
        ("Hello {a{b}}", "unbalanced '{'"),
    ],
)
def test_bad_templates(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_template(template)


def test_allowed_placeholders() -> None:
    assert parse_template("{base_type} in form", allowed=frozenset({"base_type"}))[0] == (
        "property",
        "base_type",
    )
    with pytest.raises(TemplateError, match="unknown placeholder"):
        parse_template("{kind}", allowed=frozenset({"base_type"}))
