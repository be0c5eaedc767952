"""Shoppers through the gateway: browse, look at products and stock, sign in, view cart and
orders. Each simulated shopper uses its own loopback source address (127.0.0.x), so the
gateway's per-IP limits treat them as distinct clients, as real shoppers are.

Run with `make load` (starts a suite on shifted ports, runs headless, prints percentiles) or
point locust at a running gateway: `locust -f tests/load/locustfile.py --host http://127.0.0.1:8000`.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid

from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter

_addresses = itertools.count(2)
_lock = threading.Lock()
PASSWORD = "load test password 1234"


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a given local address (requests has no option for it)."""

    def __init__(self, source: str, **kwargs) -> None:
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--sign-in-share", type=float, default=0.5, help="shoppers who sign in")


class Shopper(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        with _lock:
            n = next(_addresses)
        self.client.mount("http://", SourceAddressAdapter(f"127.0.{n // 250}.{n % 250 + 2}"))
        self.auth: dict[str, str] = {}
        self.slugs: list[str] = []
        self.skus: list[str] = []
        page = self.client.get("/api/v1/products", params={"limit": 48}, name="/products")
        if page.ok:
            self.slugs = [p["slug"] for p in page.json()["items"]]
        if random.random() < self.environment.parsed_options.sign_in_share:
            self.sign_in()

    def sign_in(self) -> None:
        email = f"load-{uuid.uuid4().hex[:12]}@example.com"
        self.client.post(
            "/api/v1/auth/register",
            json={"email": email, "name": "Load Shopper", "password": PASSWORD},
            name="/auth/register",
        )
        login = self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, name="/auth/login"
        )
        if login.ok:
            self.auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

    @task(5)
    def browse(self) -> None:
        params = random.choice(
            [
                {"limit": 24},
                {"limit": 24, "sort": "price_asc"},
                {"limit": 24, "sort": "newest"},
                {"limit": 24, "q": random.choice(["serum", "lip", "matte", "oil", "cream"])},
            ]
        )
        self.client.get("/api/v1/products", params=params, name="/products")

    @task(4)
    def product(self) -> None:
        if not self.slugs:
            return
        detail = self.client.get(
            f"/api/v1/products/{random.choice(self.slugs)}", name="/products/{slug}"
        )
        if detail.ok:
            self.skus = [v["sku"] for v in detail.json()["variants"]][:5] or self.skus

    @task(2)
    def availability(self) -> None:
        if self.skus:
            self.client.get("/api/v1/availability", params={"sku": self.skus}, name="/availability")

    @task(1)
    def categories(self) -> None:
        self.client.get("/api/v1/categories", name="/categories")

    @task(2)
    def cart(self) -> None:
        if self.auth:
            self.client.get("/api/v1/cart", headers=self.auth, name="/cart")

    @task(1)
    def orders(self) -> None:
        if self.auth:
            self.client.get("/api/v1/orders", headers=self.auth, name="/orders")
