"""Vectorized generation of N demo events for benchmarks (numpy for numbers, DuckDB for strings).

Sessions of varying length are laid out for a population of users over `days` before `end`; every event
gets PostHog-looking properties, elements chains from a fixed catalogue and UUIDv7-shaped ids. Nothing
is held as per-event Python objects, so 1M events take seconds and a few hundred MB.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from ingestion.demo_api import catalog, elements, generator

if TYPE_CHECKING:
    from ingestion.demo_api.store import DemoStore

# (path, title, weight); product pages are expanded from the catalogue
_PAGES: list[tuple[str, str, float]] = (
    [
        ("/", catalog.TITLES["/"], 0.22),
        ("/products", catalog.TITLES["/products"], 0.15),
        ("/pricing", catalog.TITLES["/pricing"], 0.08),
        ("/billing", catalog.TITLES["/billing"], 0.04),
        ("/billing/settings", catalog.TITLES["/billing/settings"], 0.02),
        ("/checkout", catalog.TITLES["/checkout"], 0.04),
        ("/payment", catalog.TITLES["/payment"], 0.03),
        ("/signup", catalog.TITLES["/signup"], 0.03),
        ("/account", catalog.TITLES["/account"], 0.03),
    ]
    + [(p, f"Docs: {p.rsplit('/', 1)[1].replace('-', ' ')} | Skyward Drones", 0.02) for p in catalog.DOCS]
    + [(f"/products/{slug}", f"{name} | Skyward Drones", 0.035) for slug, name, _, _ in catalog.PRODUCTS]
)

# (event, weight) for events after a session's first pageview
_EVENTS: list[tuple[str, float]] = [
    ("$autocapture", 0.36),
    ("$pageview", 0.2),
    ("$pageleave", 0.18),
    ("product_clicked", 0.07),
    ("item_added_to_cart", 0.035),
    ("interaction_click", 0.03),
    ("checkout_started", 0.015),
    ("order_completed", 0.008),
    ("form_submitted", 0.012),
    ("filter_changed", 0.01),
    ("$rageclick", 0.01),
    ("$dead_click", 0.012),
    ("$identify", 0.004),
    ("plan_upgrade_clicked", 0.004),
]


def _clickables() -> list[tuple[str, str, str]]:
    """(elements_chain, $el_text, $event_type) targets for autocapture/rageclick/dead-click events."""
    items = [
        (elements.link("Shop", "/products", nav=True, capture={"nav": "shop"}), "Shop", "click"),
        (elements.link("Pricing", "/pricing", nav=True, capture={"nav": "pricing"}), "Pricing", "click"),
        (elements.link("Billing", "/billing", nav=True, capture={"nav": "billing"}), "Billing", "click"),
        (elements.button("Upgrade to Pro", capture={"plan": "pro"}), "Upgrade to Pro", "click"),
        (elements.button("Add to cart"), "Add to cart", "click"),
        (elements.button("Checkout", capture={"cart": "checkout"}), "Checkout", "click"),
        (elements.button("Pay now", in_form="payment"), "Pay now", "submit"),
        (elements.form("signup"), "", "submit"),
        (elements.input_field("email", "signup"), "", "change"),
        (elements.input_field("address", "shipping"), "", "change"),
        (elements.static_text("In stock"), "In stock", "click"),
    ]
    for i, (slug, name, _, _) in enumerate(catalog.PRODUCTS):
        items.append((elements.product_card(name, slug, f"prod_{i + 1:03d}", i + 1), name, "click"))
    return items


def _page_targets(n_click: int) -> np.ndarray:
    """Per page (rows of `_PAGES`), 8 clickable indices that make sense there (cycled to fill)."""
    nav, cards = [0, 1, 2], list(range(11, n_click))
    by_path = {
        "/": nav + cards,
        "/products": [0, 5, *cards],
        "/pricing": [0, 1, 3],
        "/billing": [0, 2, 3],
        "/billing/settings": [2, 3],
        "/checkout": [0, 9],
        "/payment": [6],
        "/signup": [7, 8],
        "/account": nav,
    }
    rows = []
    for path, _, _ in _PAGES:
        options = by_path.get(path) or ([4, 10, 5, 0] if path.startswith("/products/") else nav)
        rows.append([options[i % len(options)] for i in range(8)])
    return np.array(rows, dtype=np.int64)


_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint16)
_DASHES = (8, 13, 18, 23)


def _uuid_parts(rng: np.random.Generator, ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """High/low 64-bit halves of UUIDv7 values for the given millisecond times."""
    hi = (
        (ms.astype(np.uint64) << np.uint64(16))
        | np.uint64(0x7000)
        | rng.integers(0, 1 << 12, ms.size, dtype=np.uint64)
    )
    lo = (np.uint64(0b10) << np.uint64(62)) | rng.integers(0, 1 << 62, ms.size, dtype=np.uint64)
    return hi, lo


def uuid_strings(hi: np.ndarray, lo: np.ndarray) -> pa.Array:
    """Format 128-bit values as canonical lowercase uuid strings, vectorized (no Python loop)."""
    n = hi.size
    raw = np.empty((n, 2), dtype=">u8")
    raw[:, 0], raw[:, 1] = hi, lo
    hexed = _HEX[raw.view(np.uint8).reshape(n, 16)].view(np.uint8).reshape(n, 32)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8], out[:, 9:13], out[:, 14:18] = hexed[:, 0:8], hexed[:, 8:12], hexed[:, 12:16]
    out[:, 19:23], out[:, 24:36] = hexed[:, 16:20], hexed[:, 20:32]
    return pa.array(out.reshape(-1).view("S36"), pa.binary(36)).cast(pa.string())


def _frag(d: dict) -> str:
    """A dict as JSON members without braces, for string assembly."""
    return json.dumps(d, separators=(",", ":"))[1:-1]


def scaled_events(
    store: DemoStore,
    n_events: int,
    *,
    seed: int,
    end: datetime,
    users: int | None,
    days: int,
    project_id: int,
    chunk: int = 100_000,
    compact: bool = True,
) -> int:
    """Fill `store` with exactly `n_events` events ending before `end`, plus persons and distinct ids."""
    import pyarrow.compute as pc

    from ingestion.demo_api.store import EVENTS_SCHEMA

    if n_events < 0:
        raise ValueError("n_events must be >= 0")
    rng = np.random.default_rng(seed)
    n_users = users or max(50, n_events // 250)
    store.users = n_users
    population = generator.make_users(seed, project_id, min(n_users, 2000))
    # --- users: ids unique per user, traits recycled from a bounded population -------------------
    p_hi, p_lo = _uuid_parts(rng, np.full(n_users, int((end - timedelta(days=days + 30)).timestamp() * 1000)))
    person_ids = uuid_strings(p_hi, p_lo).to_pylist()
    a_hi, a_lo = _uuid_parts(rng, np.full(n_users, int((end - timedelta(days=days + 60)).timestamp() * 1000)))
    anon_ids = uuid_strings(a_hi, a_lo).to_pylist()
    member = np.zeros(n_users, dtype=bool)
    distinct_ids, user_frag, ident_frag, person_props = [], [], [], []
    for u in range(n_users):
        t = population[u % len(population)]
        member[u] = t.member
        did = f"user_{seed}_{project_id}_{u:07d}" if t.member else anon_ids[u]
        distinct_ids.append(did)
        email = f"{t.email.split('@')[0].rstrip('0123456789')}{u}@{t.email.split('@')[1]}"
        domain = "$direct" if t.referrer == "$direct" else t.referrer.split("/")[2]
        user_frag.append(
            ","
            + _frag(
                {
                    "$referrer": t.referrer,
                    "$referring_domain": domain,
                    "$browser": t.browser,
                    "$os": t.os,
                    "$device_type": t.device_type,
                    "$screen_width": t.screen_width,
                    "$geoip_country_code": t.country,
                    "$lib": "web",
                    "$lib_version": "1.200.0",
                    "distinct_id": did,
                }
            )
        )
        ident_frag.append(
            ","
            + _frag(
                {"$anon_distinct_id": anon_ids[u], "$set": {"email": email, "name": t.name, "plan": t.plan}}
            )
        )
        props = {"$initial_browser": t.browser, "$initial_os": t.os, "$initial_geoip_country_code": t.country}
        if t.member:
            props.update({"email": email, "name": t.name, "plan": t.plan})
        person_props.append(json.dumps(props, separators=(",", ":")))
    # --- sessions -------------------------------------------------------------------------------
    mean_len = 16
    lengths = rng.geometric(1 / mean_len, max(16, int(n_events / mean_len * 1.2) + 16))
    while lengths.sum() < n_events:
        lengths = np.concatenate([lengths, rng.geometric(1 / mean_len, lengths.size)])
    cum = np.cumsum(lengths)
    n_sessions = int(np.searchsorted(cum, n_events) + 1) if n_events else 0
    lengths = lengths[:n_sessions].copy()
    if n_sessions:
        lengths[-1] -= int(cum[n_sessions - 1] - n_events)
    # skewed activity: a few users have many sessions
    s_user = np.minimum((rng.pareto(1.2, n_sessions) * n_users / 20).astype(np.int64), n_users - 1)
    s_user = (s_user + rng.integers(0, n_users, n_sessions) * (rng.random(n_sessions) < 0.5)) % n_users
    end_us = int(end.timestamp() * 1_000_000)
    span_us = days * 86_400_000_000
    s_start = end_us - span_us + rng.integers(0, span_us - 3_600_000_000, n_sessions)
    s_hi, s_lo = _uuid_parts(rng, s_start // 1000)
    sid = uuid_strings(s_hi, s_lo)
    wid = uuid_strings(s_hi, s_lo ^ np.uint64(0xABCDEF))
    sess_frag = pc.binary_join_element_wise(',"$session_id":"', sid, '","$window_id":"', wid, '"', "")
    # --- events ---------------------------------------------------------------------------------
    e_sess = np.repeat(np.arange(n_sessions), lengths)
    first = np.zeros(n_events, dtype=bool)
    starts = (
        np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if n_sessions else np.zeros(0, int)
    )
    first[starts] = True
    gaps = rng.exponential(18.0, n_events) * 1_000_000
    gaps[first] = 0
    cg = np.cumsum(gaps)
    offset = cg - np.repeat(cg[starts], lengths)
    ts = np.minimum(s_start[e_sess] + offset.astype(np.int64), end_us - 1)
    ev_names = [e for e, _ in _EVENTS]
    ev_w = np.array([w for _, w in _EVENTS])
    ev = rng.choice(len(ev_names), n_events, p=ev_w / ev_w.sum())
    pv_code = ev_names.index("$pageview")
    ev[first] = pv_code
    e_user = s_user[e_sess]
    identify = ev == ev_names.index("$identify")
    ev[identify & ~member[e_user]] = pv_code  # only account holders identify
    page_w = np.array([w for *_, w in _PAGES])
    page_at = rng.choice(len(_PAGES), n_events, p=page_w / page_w.sum())
    idx = np.where(ev == pv_code, np.arange(n_events), 0)
    page = page_at[np.maximum.accumulate(idx)] if n_events else page_at
    clickables = _clickables()
    click = _page_targets(len(clickables))[page, rng.integers(0, 8, n_events)]
    product = rng.integers(0, len(catalog.PRODUCTS), n_events)
    slugs = [f"/products/{p[0]}" for p in catalog.PRODUCTS]
    page_product = np.array([slugs.index(p) if p in slugs else -1 for p, _, _ in _PAGES])
    on_product = page_product[page]
    product = np.where(on_product >= 0, on_product, product)  # product events on a product page name it
    late = rng.random(n_events) < generator.LATE_FRACTION
    created = (
        ts
        + rng.integers(50_000, 3_000_000, n_events)
        + late * rng.integers(7_200_000_000, 108_000_000_000, n_events)
    )
    e_hi, e_lo = _uuid_parts(rng, ts // 1000)
    # --- small lookup tables of JSON fragments -------------------------------------------------------
    page_frag = pa.array(
        [
            _frag(
                {
                    "$current_url": catalog.BASE_URL + path,
                    "$pathname": path,
                    "$host": catalog.HOST,
                    "title": title,
                }
            )
            for path, title, _ in _PAGES
        ]
    )
    n_click, n_prod = len(clickables), len(catalog.PRODUCTS)
    extras, chains = [], []
    for name in ev_names:
        for chain_text, el_text, etype in clickables:
            for slug, pname, price, category in catalog.PRODUCTS:
                pid = f"prod_{catalog.PRODUCTS.index((slug, pname, price, category)) + 1:03d}"
                extra = {
                    "$autocapture": {"$event_type": etype, "$el_text": el_text},
                    "$rageclick": {"$event_type": "click", "$el_text": el_text},
                    "$dead_click": {"$event_type": "click", "$el_text": el_text},
                    "product_clicked": {
                        "product_name": pname,
                        "product_id": pid,
                        "price": price,
                        "category": category,
                    },
                    "item_added_to_cart": {
                        "product_name": pname,
                        "product_id": pid,
                        "price": price,
                        "quantity": 1,
                    },
                    "checkout_started": {"cart_value": price, "item_count": 1},
                    "order_completed": {"revenue": price, "currency": "USD", "item_count": 1},
                    "form_submitted": {"form_name": "signup"},
                    "filter_changed": {"filter": "category", "value": category},
                    "interaction_click": {"target": "billing_period_toggle"},
                    "plan_upgrade_clicked": {"plan": "pro"},
                }.get(name)
                extras.append("," + _frag(extra) if extra else "")
                chains.append(chain_text if name in ("$autocapture", "$rageclick", "$dead_click") else "")
    extras_arr, chains_arr = pa.array(extras), pa.array(chains)
    user_frag_arr, ident_arr = pa.array(user_frag), pa.array(ident_frag)
    names_arr, did_arr, pid_arr = pa.array(ev_names), pa.array(distinct_ids), pa.array(person_ids)
    # --- assemble in timestamp order, chunk by chunk ------------------------------------------------
    order = np.argsort(ts, kind="stable")
    ts_type = pa.timestamp("us", tz="UTC")
    for lo_i in range(0, n_events, chunk):
        sel = order[lo_i : lo_i + chunk]
        c_ev, c_user, c_sess = ev[sel], e_user[sel], e_sess[sel]
        combo = (c_ev * n_click + click[sel]) * n_prod + product[sel]
        ident_piece = pc.if_else(pa.array(identify[sel] & member[c_user]), ident_arr.take(c_user), "")
        props = pc.binary_join_element_wise(
            "{",
            page_frag.take(page[sel]),
            user_frag_arr.take(c_user),
            sess_frag.take(c_sess),
            extras_arr.take(combo),
            ident_piece,
            "}",
            "",
        )
        table = pa.table(
            {
                "uuid": uuid_strings(e_hi[sel], e_lo[sel]),
                "project_id": pa.array(np.full(sel.size, project_id)),
                "event": names_arr.take(c_ev),
                "distinct_id": did_arr.take(c_user),
                "timestamp": pa.array(ts[sel], ts_type),
                "created_at": pa.array(created[sel], ts_type),
                "properties": props,
                "elements_chain": chains_arr.take(combo),
                "person_id": pid_arr.take(c_user),
            },
            schema=EVENTS_SCHEMA,
        )
        store.insert_arrow(table, refresh_persons=False)
        del table, props
        if compact:  # compress what was just added (in-memory tables stay raw until a checkpoint)
            store.cursor().execute("CHECKPOINT demo")
    # --- persons and distinct ids for users that have events -----------------------------------------
    first_seen = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_seen, e_user, ts)
    active = np.flatnonzero(first_seen < np.iinfo(np.int64).max)
    persons = pa.table(
        {
            "project_id": pa.array(np.full(active.size, project_id)),
            "id": pid_arr.take(active),
            "created_at": pa.array(first_seen[active], ts_type),
            "properties": pa.array(person_props).take(active),
            "is_identified": pa.array(member[active]),
        }
    )
    mapping = pa.table(
        {
            "project_id": pa.array(np.full(active.size * 2, project_id)),
            "distinct_id": pa.concat_arrays([did_arr.take(active), pa.array(anon_ids).take(active)]),
            "person_id": pa.concat_arrays([pid_arr.take(active), pid_arr.take(active)]),
        }
    )
    mapping = mapping.filter(
        pc.invert(
            pc.and_(
                pc.equal(pc.index_in(mapping["distinct_id"], did_arr.take(active)).is_valid(), True),
                pa.array(np.concatenate([np.zeros(active.size, bool), np.ones(active.size, bool)])),
            )
        )
    )
    cur = store.cursor()
    cur.register("_persons", persons)
    cur.register("_mapping", mapping)
    cur.execute("INSERT INTO persons SELECT * FROM _persons")
    cur.execute("INSERT INTO person_distinct_ids SELECT * FROM _mapping")
    cur.unregister("_persons")
    cur.unregister("_mapping")
    return n_events
