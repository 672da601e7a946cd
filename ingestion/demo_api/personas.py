"""Scripted demo personas: a handful of people whose behaviour triggers known patterns and cohorts.

The demo generator mixes these events into its random traffic so that tests (and people trying the
project) can check that each persona ends up with exactly the patterns and cohorts listed here.
Everything is deterministic: event uuids are uuid5 values derived from persona, anchor and position.

Times are offsets from `anchor` (UTC midnight of the day before the demo data ends). Cohort
expectations assume a reference time between anchor + 1 day and anchor + 2 days.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_NAMESPACE = uuid.UUID("6f1c4f7e-2b1d-4d0a-9a59-0c7d5e3b8a11")
_HOST = "https://shop.demo-drones.test"


@dataclass(frozen=True)
class Persona:
    """One scripted person and what the warehouse should conclude about them."""

    key: str
    person_id: str
    distinct_ids: tuple[str, ...]
    properties: dict[str, Any]
    expected_patterns: set[str] = field(default_factory=set)
    expected_cohorts: set[str] = field(default_factory=set)
    description: str = ""


def _pid(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"person:{key}"))


PERSONAS: dict[str, Persona] = {
    "checkout_abandoner": Persona(
        key="checkout_abandoner",
        person_id=_pid("checkout_abandoner"),
        distinct_ids=("persona-dana-checkout",),
        properties={
            "email": "dana.checkout@gmail.com",
            "plan": "free",
            "$geoip_country_code": "US",
            "name": "Dana Whitfield",
            "seats": 1,
        },
        expected_patterns={"checkout_abandoned"},
        expected_cohorts={
            "Checkout starters (30d)",
            "Lapsed buyers",
            "Gmail users",
            "Engaged non-paying users",
        },
        description="Bought a drone three weeks ago; today started checkout and left at shipping.",
    ),
    "billing_hesitant": Persona(
        key="billing_hesitant",
        person_id=_pid("billing_hesitant"),
        distinct_ids=("persona-ben-billing",),
        properties={
            "email": "ben.k@acme.com",
            "plan": "pro",
            "$geoip_country_code": "DE",
            "name": "Ben Krause",
            "seats": 25,
        },
        expected_patterns={"billing_hesitation"},
        expected_cohorts={
            "Returning after a break",
            "Pro plan customers",
            "Outside US",
            "Company email domains",
            "Large teams",
        },
        description="Came back after six weeks and kept opening billing pages without upgrading.",
    ),
    "payment_rage": Persona(
        key="payment_rage",
        person_id=_pid("payment_rage"),
        distinct_ids=("persona-rita-payment",),
        properties={
            "email": "rita@initech.com",
            "plan": "trial",
            "$geoip_country_code": "US",
            "name": "Rita Alvarez",
            "seats": 3,
        },
        expected_patterns={"payment_failure_frustration"},
        expected_cohorts={"Company email domains", "Engaged non-paying users", "Payment trouble"},
        description="Payment failed, then rage-clicked 'Pay now' twice.",
    ),
    "quick_bouncer": Persona(
        key="quick_bouncer",
        person_id=_pid("quick_bouncer"),
        distinct_ids=("persona-anon-bounce-4410",),
        properties={"$geoip_country_code": "FR", "$initial_browser": "Safari"},
        expected_patterns={"quick_bounce"},
        expected_cohorts={"Outside US"},
        description="Landed on a blog post from search and left after six seconds.",
    ),
    "power_user": Persona(
        key="power_user",
        person_id=_pid("power_user"),
        distinct_ids=("persona-pat-power",),
        properties={
            "email": "pat.okafor@acme.com",
            "plan": "enterprise",
            "$geoip_country_code": "US",
            "name": "Pat Okafor",
            "seats": 120,
        },
        expected_patterns={"power_user_session"},
        expected_cohorts={
            "Weekly regulars",
            "Heavy clickers (7d)",
            "Pro plan customers",
            "Company email domains",
            "Large teams",
        },
        description="Weekly user; today a 40-minute session with many clicks across the app.",
    ),
    "signup_abandoner": Persona(
        key="signup_abandoner",
        person_id=_pid("signup_abandoner"),
        distinct_ids=("persona-anon-signup-8821",),
        properties={"$geoip_country_code": "GB", "$initial_browser": "Firefox"},
        expected_patterns={"signup_abandonment"},
        expected_cohorts={"Outside US", "Anonymous browsers"},
        description="Opened the signup form, typed email and password, then left.",
    ),
    "identified_after_pricing": Persona(
        key="identified_after_pricing",
        person_id=_pid("identified_after_pricing"),
        distinct_ids=("mia.chen@gmail.com", "persona-anon-mia-5127"),
        properties={
            "email": "mia.chen@gmail.com",
            "plan": "free",
            "$geoip_country_code": "CA",
            "name": "Mia Chen",
            "seats": 1,
        },
        expected_patterns={"price_comparison_loop"},
        expected_cohorts={
            "New signups (7d)",
            "Pricing then signup",
            "Gmail users",
            "Outside US",
            "Engaged non-paying users",
        },
        description="Compared pricing three times anonymously, signed up, and was identified ($identify).",
    ),
}


@dataclass(frozen=True)
class _Device:
    browser: str
    os: str
    device_type: str
    country: str


_DEVICES: dict[str, _Device] = {
    "checkout_abandoner": _Device("Chrome", "Windows", "Desktop", "US"),
    "billing_hesitant": _Device("Firefox", "Mac OS X", "Desktop", "DE"),
    "payment_rage": _Device("Chrome", "Android", "Mobile", "US"),
    "quick_bouncer": _Device("Safari", "iOS", "Mobile", "FR"),
    "power_user": _Device("Chrome", "Mac OS X", "Desktop", "US"),
    "signup_abandoner": _Device("Firefox", "Linux", "Desktop", "GB"),
    "identified_after_pricing": _Device("Edge", "Windows", "Desktop", "CA"),
}

_TITLES = {
    "/": "Demo Drones - Home",
    "/checkout": "Checkout",
    "/payment": "Payment",
    "/signup": "Create your account",
    "/pricing": "Pricing",
    "/billing": "Billing",
}


def _attrs(pairs: dict[str, str]) -> str:
    """Render attributes the way posthog-js writes them: sorted keys, key="value", no separator."""
    return "".join(f'{k}="{str(v).replace(chr(34), chr(92) + chr(34))}"' for k, v in sorted(pairs.items()))


def _element(tag: str, classes: tuple[str, ...] = (), **attrs: str) -> str:
    head = tag + "".join(f".{c}" for c in classes) if classes else f"{tag}."
    if classes:
        attrs = {"attr__class": " ".join(classes), **attrs}
    return f"{head}:{_attrs(attrs)}"


def _chain(target: str, *ancestors: str) -> str:
    body = _element("body", (), **{"nth-child": "2", "nth-of-type": "1"})
    return ";".join([target, *ancestors, body])


def _button(
    text: str,
    *,
    classes: tuple[str, ...] = ("btn",),
    nav: bool = False,
    form: str | None = None,
    href: str | None = None,
    tag: str = "button",
) -> str:
    attrs: dict[str, str] = {"nth-child": "1", "nth-of-type": "1", "text": text}
    if nav:
        attrs["attr__data-ph-capture-attribute-nav"] = "main"
    if href:
        attrs["href"] = href
        attrs["attr__href"] = href
    target = _element(tag, classes, **attrs)
    ancestors = []
    if form:
        ancestors.append(
            _element(
                "form",
                (f"{form}-form",),
                attr__id=form,
                attr_id=form,
                **{"attr__data-ph-capture-attribute-form-id": form, "nth-child": "1", "nth-of-type": "1"},
            )
        )
    ancestors.append(_element("div", ("container",), **{"nth-child": "1", "nth-of-type": "1"}))
    return _chain(target, *ancestors)


def _input(name: str, form: str) -> str:
    target = _element(
        "input", ("field",), attr__name=name, attr__type="text", **{"nth-child": "2", "nth-of-type": "1"}
    )
    parent = _element(
        "form",
        (f"{form}-form",),
        attr__id=form,
        attr_id=form,
        **{"attr__data-ph-capture-attribute-form-id": form, "nth-child": "1", "nth-of-type": "1"},
    )
    return _chain(target, parent)


class _Script:
    """Accumulates one persona's events; keeps session ids and page state between calls."""

    def __init__(self, persona: Persona, anchor: datetime, project_id: int) -> None:
        self.persona = persona
        self.anchor = anchor
        self.project_id = project_id
        self.device = _DEVICES[persona.key]
        self.events: list[dict[str, Any]] = []
        self.distinct_id = persona.distinct_ids[-1]
        self.session_id = ""
        self.path = "/"

    def session(self, name: str) -> None:
        self.session_id = str(uuid.uuid5(_NAMESPACE, f"session:{self.persona.key}:{self.anchor}:{name}"))

    def add(
        self, at: timedelta, event: str, *, path: str | None = None, chain: str = "", **props: Any
    ) -> None:
        if path is not None:
            self.path = path
        index = len(self.events)
        ts = self.anchor + at
        properties: dict[str, Any] = {
            "$current_url": f"{_HOST}{self.path}",
            "$pathname": self.path,
            "$host": _HOST.removeprefix("https://"),
            "$session_id": self.session_id,
            "$window_id": str(uuid.uuid5(_NAMESPACE, f"window:{self.session_id}")),
            "$browser": self.device.browser,
            "$os": self.device.os,
            "$device_type": self.device.device_type,
            "$geoip_country_code": self.device.country,
            "$lib": "web",
            "title": _title(self.path),
        }
        properties.update(props)
        self.events.append(
            {
                "uuid": str(uuid.uuid5(_NAMESPACE, f"{self.persona.key}|{self.anchor.isoformat()}|{index}")),
                "event": event,
                "distinct_id": self.distinct_id,
                "timestamp": ts.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "properties": properties,
                "elements_chain": chain,
                "project_id": self.project_id,
            }
        )

    def view(self, at: timedelta, path: str, **props: Any) -> None:
        self.add(at, "$pageview", path=path, **props)

    def leave(self, at: timedelta) -> None:
        self.add(at, "$pageleave")

    def click(self, at: timedelta, chain: str, kind: str = "click") -> None:
        self.add(at, "$autocapture", chain=chain, **{"$event_type": kind})

    def rage(self, at: timedelta, chain: str) -> None:
        self.add(at, "$rageclick", chain=chain)


def _title(path: str) -> str:
    for prefix, title in sorted(_TITLES.items(), key=lambda kv: -len(kv[0])):
        if path == prefix or (prefix != "/" and path.startswith(prefix)):
            return title
    words = [w for w in path.strip("/").replace("-", " ").split("/") if w]
    return " ".join(words).title() or "Demo Drones"


def _m(minutes: float, days: float = 0) -> timedelta:
    return timedelta(days=days, minutes=minutes)


def _checkout_abandoner(s: _Script) -> None:
    # Three weeks ago: a completed purchase (the order event closes that checkout).
    s.session("old-order")
    s.view(_m(14 * 60, -20), "/")
    s.view(_m(14 * 60 + 2, -20), "/products/skyhawk-mini")
    s.view(_m(14 * 60 + 5, -20), "/checkout")
    s.click(_m(14 * 60 + 7, -20), _button("Place order", form="checkout"), "submit")
    s.add(_m(14 * 60 + 7.1, -20), "order_completed", order_id="A-1042", revenue=349)
    s.view(_m(14 * 60 + 8, -20), "/order/confirmation")
    # Today: started checkout, left at the shipping step.
    s.session("today")
    s.view(_m(10 * 60), "/", **{"$referrer": "https://www.google.com/"})
    s.view(_m(10 * 60 + 1), "/products/skyhawk-pro")
    s.click(_m(10 * 60 + 2), _button("Add to cart", classes=("btn", "btn-primary")))
    s.add(_m(10 * 60 + 3), "checkout_started", path="/checkout", cart_value=899)
    s.view(_m(10 * 60 + 3.2), "/checkout")
    s.click(_m(10 * 60 + 4), _input("email", "checkout"), "change")
    s.click(_m(10 * 60 + 5), _input("address", "checkout"), "change")
    s.view(_m(10 * 60 + 6), "/checkout/shipping")
    s.leave(_m(10 * 60 + 8))


def _billing_hesitant(s: _Script) -> None:
    s.session("six-weeks-ago")
    s.view(_m(9 * 60, -45), "/dashboard")
    s.view(_m(9 * 60 + 3, -45), "/billing")
    s.leave(_m(9 * 60 + 5, -45))
    s.session("today")
    s.view(_m(14 * 60), "/dashboard")
    s.view(_m(14 * 60 + 1), "/billing")
    s.click(_m(14 * 60 + 2), _button("Compare plans", classes=("btn", "btn-link")))
    s.view(_m(14 * 60 + 4), "/settings/profile")
    s.view(_m(14 * 60 + 6), "/billing")
    s.view(_m(14 * 60 + 9), "/billing/plans")
    s.click(_m(14 * 60 + 10), _button("Upgrade to Pro", classes=("btn", "btn-primary")))
    s.leave(_m(14 * 60 + 12))


def _payment_rage(s: _Script) -> None:
    s.session("today")
    pay = _button("Pay now", classes=("btn", "btn-pay"), form="payment")
    s.view(_m(16 * 60), "/payment")
    s.click(_m(16 * 60 + 1), _input("card_number", "payment"), "change")
    s.click(_m(16 * 60 + 2), pay, "submit")
    s.add(_m(16 * 60 + 2.1), "payment_failed", error_code="card_declined")
    s.rage(_m(16 * 60 + 2.5), pay)
    s.rage(_m(16 * 60 + 2.7), pay)
    s.view(_m(16 * 60 + 3), "/payment")
    s.leave(_m(16 * 60 + 5))


def _quick_bouncer(s: _Script) -> None:
    s.session("today")
    s.view(_m(9 * 60), "/blog/drone-laws-2026", **{"$referrer": "https://duckduckgo.com/"})
    s.leave(_m(9 * 60 + 0.1))


def _power_user(s: _Script) -> None:
    for days in (-22, -15, -8):
        s.session(f"weekly{days}")
        s.view(_m(8 * 60, days), "/dashboard")
        s.click(_m(8 * 60 + 1, days), _button("Refresh", classes=("btn",)))
        s.leave(_m(8 * 60 + 2, days))
    s.session("today")
    pages = [
        "/dashboard",
        "/projects",
        "/projects/42",
        "/reports",
        "/reports/weekly",
        "/settings/team",
        "/dashboard",
        "/projects/43",
    ]
    labels = ["New project", "Filter", "Export CSV", "Share", "Add widget", "Invite member"]
    minute = 8 * 60.0
    clicks = 0
    for page in pages:
        s.view(_m(minute), page)
        minute += 1
        for _ in range(3):
            s.click(_m(minute), _button(labels[clicks % len(labels)], classes=("btn", "btn-secondary")))
            clicks += 1
            minute += 1.5
    s.leave(_m(minute))


def _signup_abandoner(s: _Script) -> None:
    s.session("today")
    s.view(_m(12 * 60), "/")
    s.view(_m(12 * 60 + 1), "/signup")
    s.click(_m(12 * 60 + 2), _input("email", "signup"), "change")
    s.click(_m(12 * 60 + 3), _input("password", "signup"), "change")
    s.click(_m(12 * 60 + 3.5), _button("Show password", classes=("btn", "btn-icon"), form="signup"))
    s.leave(_m(12 * 60 + 5))


def _identified_after_pricing(s: _Script) -> None:
    anon, known = s.persona.distinct_ids[1], s.persona.distinct_ids[0]
    s.distinct_id = anon
    s.session("today")
    s.view(_m(18 * 60), "/pricing")
    s.view(_m(18 * 60 + 2), "/features/autopilot")
    s.view(_m(18 * 60 + 4), "/pricing")
    s.click(_m(18 * 60 + 5), _button("Annual", classes=("toggle",), tag="label"))
    s.view(_m(18 * 60 + 8), "/pricing")
    s.view(_m(18 * 60 + 10), "/signup")
    s.click(
        _m(18 * 60 + 12), _button("Create account", classes=("btn", "btn-primary"), form="signup"), "submit"
    )
    s.add(_m(18 * 60 + 12.02), "signup_completed", method="email")
    s.distinct_id = known
    s.add(
        _m(18 * 60 + 12.05),
        "$identify",
        path="/welcome",
        **{
            "$anon_distinct_id": anon,
            "$set": {"email": known, "name": "Mia Chen"},
            "$set_once": {"$initial_referrer": "$direct"},
        },
    )
    s.view(_m(18 * 60 + 12.1), "/welcome")
    s.click(_m(18 * 60 + 14), _button("Start tour", classes=("btn",), nav=True))
    s.leave(_m(18 * 60 + 16))


_SCRIPTS = {
    "checkout_abandoner": _checkout_abandoner,
    "billing_hesitant": _billing_hesitant,
    "payment_rage": _payment_rage,
    "quick_bouncer": _quick_bouncer,
    "power_user": _power_user,
    "signup_abandoner": _signup_abandoner,
    "identified_after_pricing": _identified_after_pricing,
}


def _as_utc(anchor: datetime) -> datetime:
    if anchor.tzinfo is None:
        return anchor.replace(tzinfo=UTC)
    return anchor.astimezone(UTC)


def persona_events(anchor: datetime, project_id: int = 1) -> list[dict[str, Any]]:
    """All persona events (PostHog event dicts), sorted by timestamp then uuid."""
    anchor = _as_utc(anchor)
    events: list[dict[str, Any]] = []
    for key, script in _SCRIPTS.items():
        s = _Script(PERSONAS[key], anchor, project_id)
        script(s)
        events.extend(s.events)
    events.sort(key=lambda e: (e["timestamp"], e["uuid"]))
    return events


def persona_persons(project_id: int = 1, anchor: datetime | None = None) -> list[dict[str, Any]]:
    """PostHog person dicts (persons API shape) for the personas."""
    created = _as_utc(anchor) - timedelta(days=60) if anchor else datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "id": p.person_id,
            "uuid": p.person_id,
            "name": p.properties.get("email") or p.distinct_ids[0],
            "distinct_ids": list(p.distinct_ids),
            "properties": dict(p.properties),
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "is_identified": "email" in p.properties,
            "project_id": project_id,
        }
        for p in PERSONAS.values()
    ]
