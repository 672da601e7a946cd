"""Seeded, realistic demo traffic built one UTC day at a time.

Every random choice for a day comes from an RNG seeded by (seed, project, day), and every user's fixed
traits from (seed, project, user), so the events of a day never depend on which window was asked for.
That makes the data prefix-stable: regenerating with a later `end` yields the same earlier events.
Output is a dict of column lists (a few thousand rows per day), turned into Arrow by the store.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson

from ingestion.demo_api import catalog, elements

SESSION_IDLE = timedelta(minutes=30)
LATE_FRACTION = 0.01
EVENT_COLUMNS = (
    "uuid",
    "event",
    "distinct_id",
    "timestamp",
    "created_at",
    "properties",
    "elements_chain",
    "person_id",
)


def uuid7(ms: int, rng: random.Random) -> str:
    """A UUIDv7-shaped id: 48-bit millisecond time, version 7, variant bits, rest from `rng`."""
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rng.getrandbits(12) << 64
    value |= 0b10 << 62
    value |= rng.getrandbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _weighted(rng: random.Random, items: list[tuple]) -> tuple:
    return rng.choices(items, weights=[i[-1] for i in items], k=1)[0]


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


@dataclass(frozen=True)
class DemoUser:
    """Traits of one simulated person that stay fixed across days."""

    index: int
    person_id: str
    member: bool  # has an account (identified distinct id) before the window starts
    identified_id: str
    anon_id: str
    email: str
    name: str
    plan: str
    browser: str
    os: str
    device_type: str
    screen_width: int
    country: str
    activity: float  # mean sessions per day
    referrer: str

    def person_properties(self, identified: bool) -> dict:
        props: dict = {
            "$initial_browser": self.browser,
            "$initial_os": self.os,
            "$initial_device_type": self.device_type,
            "$initial_geoip_country_code": self.country,
        }
        if identified:
            props.update({"email": self.email, "name": self.name, "plan": self.plan})
        return props


def make_users(seed: int, project_id: int, count: int) -> list[DemoUser]:
    """The fixed population for (seed, project)."""
    users = []
    for i in range(count):
        rng = random.Random(f"{seed}:{project_id}:user:{i}")
        first, last = rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES)
        browser, os_name, device, width, _ = _weighted(rng, catalog.DEVICES)
        country = _weighted(rng, catalog.COUNTRIES)[0]
        users.append(
            DemoUser(
                index=i,
                person_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                member=rng.random() < 0.6,
                identified_id=f"user_{seed}_{project_id}_{i:05d}",
                anon_id=uuid7(1_700_000_000_000 + rng.getrandbits(30), rng),
                email=f"{first.lower()}.{last.lower()}{i}@{rng.choice(catalog.EMAIL_DOMAINS)}",
                name=f"{first} {last}",
                plan=rng.choice(catalog.PLANS),
                browser=browser,
                os=os_name,
                device_type=device,
                screen_width=width,
                country=country,
                activity=rng.choice([0.15, 0.3, 0.5, 0.8, 1.2, 2.0]),
                referrer=_weighted(rng, catalog.REFERRERS)[0],
            )
        )
    return users


class _SessionWriter:
    """Appends the events of one session to column lists, tracking time and ids."""

    def __init__(
        self,
        cols: dict[str, list],
        rng: random.Random,
        user: DemoUser,
        start: datetime,
        distinct_id: str,
        referrer: str,
    ) -> None:
        self.cols, self.rng, self.user, self.t = cols, rng, user, start
        self.distinct_id = distinct_id
        self.session_id = uuid7(_ms(start), rng)
        self.window_id = uuid7(_ms(start), rng)
        self.referrer = referrer
        self.path = "/"
        self.on_page = False
        self.prev_url: str | None = None

    def advance(self, low: float, high: float) -> None:
        self.t += timedelta(seconds=self.rng.uniform(low, high))

    def emit(self, event: str, props: dict | None = None, chain: str = "") -> None:
        rng, user = self.rng, self.user
        url = catalog.BASE_URL + self.path
        referrer = self.prev_url or self.referrer
        base = {
            "$current_url": url,
            "$pathname": self.path,
            "$host": catalog.HOST,
            "$referrer": referrer,
            "$referring_domain": "$direct" if referrer == "$direct" else referrer.split("/")[2],
            "$browser": user.browser,
            "$os": user.os,
            "$device_type": user.device_type,
            "$screen_width": user.screen_width,
            "$geoip_country_code": user.country,
            "$lib": "web",
            "$lib_version": "1.200.0",
            "$session_id": self.session_id,
            "$window_id": self.window_id,
            "title": catalog.TITLES.get(self.path, _title(self.path)),
            "distinct_id": self.distinct_id,
        }
        if props:
            base.update(props)
        if rng.random() < LATE_FRACTION:
            created = self.t + timedelta(hours=rng.uniform(2, 30))
        else:
            created = self.t + timedelta(seconds=rng.uniform(0.05, 3))
        c = self.cols
        c["uuid"].append(uuid7(_ms(self.t), rng))
        c["event"].append(event)
        c["distinct_id"].append(self.distinct_id)
        c["timestamp"].append(self.t)
        c["created_at"].append(created)
        c["properties"].append(orjson.dumps(base).decode())
        c["elements_chain"].append(chain)
        c["person_id"].append(user.person_id)

    # --- building blocks -------------------------------------------------------------------
    def pageview(self, path: str) -> None:
        if self.on_page:
            self.advance(0.2, 1.0)
            self.emit("$pageleave")
            self.prev_url = catalog.BASE_URL + self.path
        self.on_page = True
        self.path = path
        self.advance(0.3, 2.0)
        self.emit("$pageview")

    def click(self, chain: str, text: str, event_type: str = "click", extra: dict | None = None) -> None:
        self.advance(2, 25)
        props = {"$event_type": event_type, "$el_text": text}
        props.update(extra or {})
        self.emit("$autocapture", props, chain)

    def custom(self, event: str, props: dict) -> None:
        self.advance(0.01, 0.2)
        self.emit(event, props)


def _title(path: str) -> str:
    if path.startswith("/products/"):
        slug = path.rsplit("/", 1)[1]
        name = next((p[1] for p in catalog.PRODUCTS if p[0] == slug), slug)
        return f"{name} | Skyward Drones"
    if path.startswith("/docs"):
        return f"Docs: {path.rsplit('/', 1)[1].replace('-', ' ')} | Skyward Drones"
    return "Skyward Drones"


def _browse(w: _SessionWriter) -> None:
    """Catalogue browsing, sometimes to cart, checkout and payment."""
    rng = w.rng
    w.click(
        elements.link("Shop", "/products", nav=True, capture={"nav": "shop"}), "Shop", extra={"nav": "shop"}
    )
    w.pageview("/products")
    if rng.random() < 0.15:
        w.click(elements.input_field("category", "filters", "select"), "", "change")
        w.custom("filter_changed", {"filter": "category", "value": rng.choice(["drones", "accessories"])})
    cart: list[tuple[str, str, float, str]] = []
    for _ in range(rng.randint(1, 4)):
        slug, name, price, category = rng.choice(catalog.PRODUCTS)
        pid = f"prod_{catalog.PRODUCTS.index((slug, name, price, category)) + 1:03d}"
        w.click(elements.product_card(name, slug, pid, rng.randint(1, 8)), name)
        w.custom(
            "product_clicked", {"product_name": name, "product_id": pid, "price": price, "category": category}
        )
        w.pageview(f"/products/{slug}")
        if rng.random() < 0.08:
            w.advance(1, 3)
            w.emit(
                "$dead_click",
                {"$event_type": "click", "$el_text": "In stock"},
                elements.static_text("In stock"),
            )
        if rng.random() < 0.45:
            w.click(elements.button("Add to cart", capture={"product-id": pid}), "Add to cart")
            w.custom(
                "item_added_to_cart", {"product_name": name, "product_id": pid, "price": price, "quantity": 1}
            )
            cart.append((slug, name, price, category))
        if rng.random() < 0.4:
            w.click(elements.link("Back to products", "/products"), "Back to products")
            w.pageview("/products")
    if not cart or rng.random() < 0.25:
        return
    total = round(sum(p[2] for p in cart), 2)
    w.click(elements.button("Checkout", capture={"cart": "checkout"}), "Checkout")
    w.pageview("/checkout")
    w.custom("checkout_started", {"cart_value": total, "item_count": len(cart)})
    if rng.random() < 0.3:
        return  # abandoned at checkout
    for i, fld in enumerate(("address", "city", "postcode")):
        w.click(elements.input_field(fld, "shipping", nth=i + 1), "", "change")
    w.click(elements.button("Continue to payment", in_form="shipping"), "Continue to payment", "submit")
    w.pageview("/payment")
    if rng.random() < 0.15:  # payment trouble: rage clicks on the pay button
        w.advance(3, 10)
        w.emit(
            "$rageclick",
            {"$event_type": "click", "$el_text": "Pay now"},
            elements.button("Pay now", in_form="payment"),
        )
        if rng.random() < 0.5:
            return
    w.click(elements.button("Pay now", in_form="payment"), "Pay now", "submit")
    w.custom(
        "order_completed",
        {
            "order_id": f"ord_{w.rng.getrandbits(32):08x}",
            "revenue": total,
            "currency": "USD",
            "item_count": len(cart),
        },
    )


def _pricing(w: _SessionWriter) -> None:
    """Plan comparison, billing pages, upgrades."""
    rng = w.rng
    w.click(
        elements.link("Pricing", "/pricing", nav=True, capture={"nav": "pricing"}),
        "Pricing",
        extra={"nav": "pricing"},
    )
    w.pageview("/pricing")
    for _ in range(rng.randint(0, 3)):
        w.click(
            elements.button("Monthly / Yearly", classes=("toggle",), capture={"toggle": "billing-period"}),
            "Monthly / Yearly",
        )
        w.custom("interaction_click", {"target": "billing_period_toggle"})
    if rng.random() < 0.6:
        w.click(elements.link("Billing", "/billing", nav=True, capture={"nav": "billing"}), "Billing")
        w.pageview("/billing")
        if rng.random() < 0.5:
            w.click(elements.link("Billing settings", "/billing/settings"), "Billing settings")
            w.pageview("/billing/settings")
            w.click(elements.input_field("card_number", "billing"), "", "change")
        if rng.random() < 0.35:
            w.click(elements.button("Upgrade to Pro", capture={"plan": "pro"}), "Upgrade to Pro")
            w.custom("plan_upgrade_clicked", {"plan": "pro"})


def _docs(w: _SessionWriter) -> None:
    rng = w.rng
    for path in rng.sample(catalog.DOCS, rng.randint(1, 3)):
        label = path.rsplit("/", 1)[1].replace("-", " ").title()
        w.click(elements.link(label, path), label)
        w.pageview(path)
        w.advance(20, 120)


def _signup(w: _SessionWriter) -> None:
    rng = w.rng
    w.click(
        elements.button("Sign up", classes=("btn", "btn-secondary"), capture={"cta": "signup"}), "Sign up"
    )
    w.pageview("/signup")
    for i, fld in enumerate(("email", "password", "company")):
        if rng.random() < 0.85:
            w.click(
                elements.input_field(fld, "signup", "password" if fld == "password" else "text", i + 1),
                "",
                "change",
            )
    if rng.random() < 0.75:
        w.click(elements.form("signup"), "", "submit")
        w.custom("form_submitted", {"form_name": "signup"})


JOURNEYS = [(_browse, 0.45), (_pricing, 0.25), (_docs, 0.15), (_signup, 0.1)]


def _identify(w: _SessionWriter, anon_id: str) -> None:
    """Log in mid-session: `$identify` moves the browser from the anonymous id to the account id."""
    user = w.user
    w.pageview("/login")
    w.click(elements.button("Log in", in_form="login"), "Log in", "submit")
    w.distinct_id = user.identified_id
    w.advance(0.1, 0.5)
    w.emit(
        "$identify",
        {
            "$anon_distinct_id": anon_id,
            "$set": {"email": user.email, "name": user.name, "plan": user.plan},
            "$set_once": {"first_login_browser": user.browser},
        },
    )


def _session(w: _SessionWriter, identify_from: str | None) -> None:
    rng = w.rng
    entry = rng.choices(["/", "/pricing", "/products", "/docs/getting-started"], [0.6, 0.15, 0.15, 0.1])[0]
    w.pageview(entry)
    if rng.random() < 0.12:  # quick bounce
        w.advance(1, 6)
        w.emit("$pageleave")
        return
    if identify_from is not None:
        _identify(w, identify_from)
    for _ in range(rng.choices([1, 2, 3], [0.6, 0.3, 0.1])[0]):
        journey = rng.choices([j for j, _ in JOURNEYS], [p for _, p in JOURNEYS])[0]
        journey(w)
    w.advance(2, 40)
    w.emit("$pageleave")


def generate_day(seed: int, project_id: int, day: date, users: list[DemoUser]) -> dict[str, list]:
    """All sessions that start on `day` (UTC) for every user, as column lists."""
    cols: dict[str, list] = {name: [] for name in EVENT_COLUMNS}
    rng = random.Random(f"{seed}:{project_id}:day:{day.isoformat()}")
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for user in users:
        # Poisson-ish count of sessions, spaced by more than the idle timeout.
        count = 0
        while rng.random() < user.activity / (user.activity + 1) and count < 6:
            count += 1
        if count == 0:
            continue
        starts = sorted(rng.uniform(0, 86_000) for _ in range(count))
        next_free = midnight
        for n, offset in enumerate(starts):
            start = max(midnight + timedelta(seconds=offset), next_free)
            if start.date() != day:
                break
            identify_from: str | None = None
            if user.member:
                if n == 0 and rng.random() < 0.25:  # a new browser: starts anonymous, then logs in
                    identify_from = uuid7(_ms(start), rng)
                    distinct_id = identify_from
                else:
                    distinct_id = user.identified_id
            else:
                distinct_id = user.anon_id
                if rng.random() < 0.04:  # a visitor creates an account and is identified
                    identify_from = user.anon_id
            referrer = user.referrer if n == 0 else rng.choice(["$direct", user.referrer])
            writer = _SessionWriter(cols, rng, user, start, distinct_id, referrer)
            _session(writer, identify_from)
            next_free = writer.t + SESSION_IDLE + timedelta(minutes=rng.uniform(5, 240))
    return cols
