"""Build `elements_chain` strings in PostHog's serialisation (clicked element first, then ancestors)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _memo(fn: Callable[..., str]) -> Callable[..., str]:
    """Cache chain strings by their arguments (the generator asks for the same few thousands of times)."""
    cache: dict[Any, str] = {}

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        key = (
            args,
            tuple(
                sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v) for k, v in kwargs.items())
            ),
        )
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = fn(*args, **kwargs)
        return hit

    return wrapper


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Element:
    """One DOM element as autocapture records it."""

    tag: str
    classes: tuple[str, ...] = ()
    text: str | None = None
    href: str | None = None
    attr_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    nth_child: int = 1
    nth_of_type: int = 1

    def serialise(self) -> str:
        """Render as `tag.cls1.cls2:key="value"...` with keys sorted and no separators."""
        head = self.tag + "".join("." + c for c in sorted(self.classes))
        attrs: dict[str, str] = {}
        if self.classes:
            attrs["attr__class"] = " ".join(self.classes)
        for name, value in self.attributes.items():
            attrs[f"attr__{name}"] = value
        if self.attr_id is not None:
            attrs["attr__id"] = self.attr_id
            attrs["attr_id"] = self.attr_id
        if self.href is not None:
            attrs["attr__href"] = self.href
            attrs["href"] = self.href
        if self.text is not None:
            attrs["text"] = self.text
        attrs["nth-child"] = str(self.nth_child)
        attrs["nth-of-type"] = str(self.nth_of_type)
        return head + ":" + "".join(f"{k}={_quote(v)}" for k, v in sorted(attrs.items()))


def chain(*elements: Element) -> str:
    """Join elements, innermost (the clicked one) first."""
    return ";".join(e.serialise() for e in elements)


def page_shell(main_classes: tuple[str, ...] = ("container", "mx-auto")) -> tuple[Element, ...]:
    """The ancestors every page shares: main inside the app root inside body."""
    return (
        Element("main", main_classes, nth_child=2, nth_of_type=1),
        Element("div", attr_id="root", nth_child=1, nth_of_type=1),
        Element("body", nth_child=2, nth_of_type=1),
    )


def nav_shell() -> tuple[Element, ...]:
    """Ancestors of a header navigation link."""
    return (
        Element("nav", ("flex", "gap-6", "items-center"), nth_child=2),
        Element("header", ("bg-white", "shadow-sm", "sticky", "top-0"), nth_child=1),
        Element("div", attr_id="root", nth_child=1),
        Element("body", nth_child=2),
    )


@_memo
def button(
    text: str,
    *,
    classes: tuple[str, ...] = ("btn", "btn-primary"),
    capture: dict[str, str] | None = None,
    nth: int = 1,
    in_form: str | None = None,
) -> str:
    """A clicked button on a page, optionally inside a named form."""
    attrs = {f"data-ph-capture-attribute-{k}": v for k, v in (capture or {}).items()}
    attrs["type"] = "submit" if in_form else "button"
    target = Element("button", classes, text=text, attributes=attrs, nth_child=nth, nth_of_type=nth)
    parents: tuple[Element, ...] = ()
    if in_form:
        parents = (
            Element("form", ("form", "space-y-4"), attr_id=f"{in_form}-form", attributes={"name": in_form}),
        )
    return chain(target, *parents, Element("div", ("actions", "flex")), *page_shell())


@_memo
def link(
    text: str, href: str, *, nav: bool = False, capture: dict[str, str] | None = None, nth: int = 1
) -> str:
    """A clicked anchor, either in the header navigation or in page content."""
    attrs = {f"data-ph-capture-attribute-{k}": v for k, v in (capture or {}).items()}
    classes = ("nav-link", "text-gray-700") if nav else ("link", "text-indigo-600")
    target = Element("a", classes, text=text, href=href, attributes=attrs, nth_child=nth, nth_of_type=nth)
    if nav:
        return chain(target, *nav_shell())
    return chain(target, Element("p", ("mt-2",)), *page_shell())


@_memo
def product_card(name: str, slug: str, product_id: str, nth: int) -> str:
    """A product tile in the catalogue grid (the clicked element is the card's title)."""
    title = Element("h3", ("font-semibold", "text-lg"), text=name, nth_child=2, nth_of_type=1)
    card = Element(
        "a",
        ("card", "product-card"),
        href=f"/products/{slug}",
        attributes={"data-ph-capture-attribute-product-id": product_id},
        nth_child=nth,
        nth_of_type=nth,
    )
    grid = Element("div", ("grid", "grid-cols-3", "gap-4"), nth_child=2)
    return chain(title, card, grid, *page_shell())


@_memo
def input_field(name: str, form: str, kind: str = "text", nth: int = 1) -> str:
    """A form input that fired a change event (value never recorded, as posthog-js does)."""
    target = Element(
        "input", ("input", "w-full"), attributes={"name": name, "type": kind}, nth_child=nth, nth_of_type=nth
    )
    label = Element("label", ("block",), nth_child=nth)
    form_el = Element("form", ("form", "space-y-4"), attr_id=f"{form}-form", attributes={"name": form})
    return chain(target, label, form_el, *page_shell())


@_memo
def form(name: str) -> str:
    """A submitted form element."""
    form_el = Element("form", ("form", "space-y-4"), attr_id=f"{name}-form", attributes={"name": name})
    return chain(form_el, Element("div", ("card",)), *page_shell())


@_memo
def static_text(text: str) -> str:
    """A non-interactive element (the usual target of dead clicks)."""
    return chain(
        Element("span", ("badge", "text-gray-500"), text=text, nth_child=3),
        Element("div", ("card",)),
        *page_shell(),
    )
