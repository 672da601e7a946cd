"""Fixed content of the demo web shop: pages, products, plans, devices (shared by both generators)."""

from __future__ import annotations

HOST = "shop.example.com"
BASE_URL = f"https://{HOST}"

PRODUCTS: list[tuple[str, str, float, str]] = [
    # (slug, name, price, category)
    ("falcon-mini", "Falcon Mini Drone", 249.0, "drones"),
    ("falcon-pro", "Falcon Pro Drone", 899.0, "drones"),
    ("osprey-4k", "Osprey 4K Camera Drone", 1299.0, "drones"),
    ("sparrow-fpv", "Sparrow FPV Racer", 379.0, "drones"),
    ("spare-battery", "Spare Battery Pack", 79.0, "accessories"),
    ("prop-guards", "Propeller Guards", 19.0, "accessories"),
    ("carry-case", "Hard Carry Case", 99.0, "accessories"),
    ("nd-filters", "ND Filter Set", 49.0, "accessories"),
]

DOCS = [
    "/docs/getting-started",
    "/docs/flight-modes",
    "/docs/firmware-update",
    "/docs/api/telemetry",
    "/docs/faq",
]

TITLES = {
    "/": "Home | Skyward Drones",
    "/products": "All products | Skyward Drones",
    "/pricing": "Pricing | Skyward Drones",
    "/billing": "Billing | Skyward Drones",
    "/billing/settings": "Billing settings | Skyward Drones",
    "/checkout": "Checkout | Skyward Drones",
    "/payment": "Payment | Skyward Drones",
    "/signup": "Create your account | Skyward Drones",
    "/login": "Log in | Skyward Drones",
    "/account": "Your account | Skyward Drones",
}

PLANS = ["free", "free", "starter", "pro", "pro", "team", "enterprise"]
FIRST_NAMES = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Yara",
]
LAST_NAMES = [
    "Okafor",
    "Schmidt",
    "Nguyen",
    "Garcia",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Silva",
    "Brown",
    "Rossi",
    "Novak",
    "Larsen",
    "Mehta",
    "Dubois",
    "Kim",
    "Andersson",
]
EMAIL_DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]

# (browser, os, device_type, screen width, weight)
DEVICES: list[tuple[str, str, str, int, float]] = [
    ("Chrome", "Windows", "Desktop", 1920, 0.30),
    ("Chrome", "Mac OS X", "Desktop", 1440, 0.16),
    ("Safari", "Mac OS X", "Desktop", 1512, 0.10),
    ("Firefox", "Linux", "Desktop", 1920, 0.05),
    ("Edge", "Windows", "Desktop", 1366, 0.06),
    ("Mobile Safari", "iOS", "Mobile", 390, 0.18),
    ("Chrome", "Android", "Mobile", 412, 0.11),
    ("Safari", "iOS", "Tablet", 820, 0.04),
]
COUNTRIES = [
    ("US", 0.34),
    ("GB", 0.1),
    ("DE", 0.1),
    ("FR", 0.07),
    ("IN", 0.08),
    ("BR", 0.06),
    ("CA", 0.05),
    ("NL", 0.04),
    ("JP", 0.05),
    ("AU", 0.04),
    ("ES", 0.04),
    ("PL", 0.03),
]
REFERRERS = [
    ("$direct", 0.45),
    ("https://www.google.com/", 0.3),
    ("https://duckduckgo.com/", 0.05),
    ("https://news.ycombinator.com/", 0.05),
    ("https://www.reddit.com/r/drones/", 0.07),
    ("https://t.co/", 0.04),
    ("https://www.youtube.com/", 0.04),
]
