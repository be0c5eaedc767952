"""Shoppers through the gateway, in a realistic mix: browsing ≫ product pages > availability >
cart adds > checkout (Online Boutique's weights as a reference), sign-ins where a share of the
shoppers are returning ones (their accounts cached across shoppers), and every shopper who buys
goes the whole journey: cart → `POST /api/v1/checkout` with an Idempotency-Key → the order's
terminal state, polling `GET /api/v1/orders/{id}` while it is `pending`. A few buyers use a
declining card and a few a 3-D Secure card (completed through payments' development route when
`--payments-url` is given and the order exposes a client secret, else left abandoned: the
checkout's timeout voids and releases it).

Each shopper connects from its own loopback source address (127.0.x.y), so the gateway's per-IP
limits treat them as distinct clients, as real shoppers are.

Expected refusals (out of stock, a declined card) are not errors: they are counted as outcomes.
With `--samples FILE` every request is written as one CSV row (time, group, name, ms, ok,
status) for tools.load_test's SLO gate, timeline plot and chaos windows. A whole buying journey
is reported as a request of type `JOURNEY` named by its outcome (`order confirmed`, ...).

Run with `make load`, or point locust at a running gateway:
`locust -f tests/load/locustfile.py --host http://127.0.0.1:8000`.
"""

from __future__ import annotations

import csv
import itertools
import random
import time
import uuid

from geventhttpclient.client import HTTPClientPool
from locust import FastHttpUser, events, task

PASSWORD = "load test password 1234"
ADDRESS = {
    "full_name": "Load Shopper",
    "line1": "1 Rue de la Paix",
    "city": "Paris",
    "postal_code": "75002",
    "country": "FR",
}
DECLINING_CARD = "pm_card_visa_chargeDeclined"
THREE_D_SECURE_CARD = "pm_card_authenticationRequired"
TERMINAL = {"confirmed", "failed", "cancelled", "refunded", "partially_refunded", "shipped"}
# Request name -> endpoint group of the SLO gate.
GROUPS = {
    "/products": "browse",
    "/products/{slug}": "browse",
    "/categories": "browse",
    "/availability": "browse",
    "/auth/register": "account",
    "/auth/login": "account",
    "/me/addresses": "account",
    "/cart": "cart",
    "/cart/items": "cart",
    "/checkout": "checkout",
    "/orders": "orders",
    "/orders/{id}": "orders",
    "/payments/dev/authenticate": "payments",
}

_addresses = itertools.count(2)
_returning: list[tuple[str, str]] = []  # (email, password) of shoppers who registered
_samples = {"writer": None, "file": None, "t0": time.time()}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--sign-in-share", type=float, default=0.5, help="shoppers who sign in")
    parser.add_argument(
        "--returning-share", type=float, default=0.6, help="sign-ins by a returning shopper"
    )
    parser.add_argument("--buyer-share", type=float, default=0.5, help="signed-in who buy")
    parser.add_argument("--decline-share", type=float, default=0.05)
    parser.add_argument("--three-d-secure-share", type=float, default=0.05)
    parser.add_argument("--payments-url", default="", help="payments' own HTTP URL (dev route)")
    parser.add_argument("--samples", default="", help="write every request to this CSV")
    parser.add_argument("--wait-min", type=float, default=0.5)
    parser.add_argument("--wait-max", type=float, default=2.0)


@events.test_start.add_listener
def _open_samples(environment, **_kw) -> None:
    path = environment.parsed_options.samples if environment.parsed_options else ""
    if path and _samples["writer"] is None:
        _samples["file"] = open(path, "w", newline="")  # noqa: SIM115 (closed on quit)
        _samples["writer"] = csv.writer(_samples["file"])
        _samples["writer"].writerow(["t", "group", "name", "ms", "ok", "status", "error"])
        _samples["t0"] = time.time()


@events.request.add_listener
def _record(request_type, name, response_time, response=None, exception=None, **_kw) -> None:
    writer = _samples["writer"]
    if writer is None:
        return
    group = "journey" if request_type == "JOURNEY" else GROUPS.get(name, "other")
    status = getattr(response, "status_code", "") if response is not None else ""
    error = "" if exception is None else str(exception)[:120].replace("\n", " ")
    writer.writerow(
        [f"{time.time():.3f}", group, name, f"{response_time:.1f}", int(exception is None),
         status, error]
    )  # fmt: skip


@events.quitting.add_listener
def _close_samples(**_kw) -> None:
    if _samples["file"] is not None:
        _samples["file"].close()
        _samples["writer"] = _samples["file"] = None


class SourceAddressPool(HTTPClientPool):
    """geventhttpclient's client pool, its sockets bound to one local address."""

    def __init__(self, source: str, **kw) -> None:
        super().__init__(**kw)
        self.source = source

    def get_client(self, url):
        client = super().get_client(url)
        pool = client._connection_pool
        if not getattr(pool, "bound_source", None):
            create = pool._create_tcp_socket

            def bound(family, socktype, protocol):
                sock = create(family, socktype, protocol)
                sock.bind((self.source, 0))
                return sock

            pool._create_tcp_socket = bound
            pool.bound_source = self.source
        return client


class Shopper(FastHttpUser):
    network_timeout = 30.0
    connection_timeout = 10.0

    def __init__(self, environment) -> None:
        n = next(_addresses)
        self.source = f"127.0.{n // 250}.{n % 250 + 2}"
        self.client_pool = SourceAddressPool(
            self.source,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
        )
        super().__init__(environment)

    def wait_time(self) -> float:
        options = self.environment.parsed_options
        if options is None:
            return random.uniform(0.5, 2.0)
        return random.uniform(options.wait_min, options.wait_max)

    @property
    def options(self):
        return self.environment.parsed_options

    def on_start(self) -> None:
        self.auth: dict[str, str] = {}
        self.address_id: str | None = None
        self.slugs: list[str] = []
        self.skus: list[str] = []
        self.in_stock: list[str] = []
        self.buyer = False
        with self.client.get(
            "/api/v1/products", params={"limit": 48}, name="/products", catch_response=True
        ) as page:
            if page.ok:
                self.slugs = [p["slug"] for p in page.json()["items"]]
        if random.random() < self.options.sign_in_share:
            self.sign_in()
            self.buyer = random.random() < self.options.buyer_share

    # ------------------------------------------------------------------ account

    def sign_in(self) -> None:
        if _returning and random.random() < self.options.returning_share:
            email, password = random.choice(_returning)
        else:
            email, password = f"load-{uuid.uuid4().hex[:12]}@example.com", PASSWORD
            with self.client.post(
                "/api/v1/auth/register",
                json={"email": email, "name": "Load Shopper", "password": password},
                name="/auth/register",
                catch_response=True,
            ) as answer:
                if not answer.ok:
                    answer.failure(f"register {answer.status_code}")
                    return
            _returning.append((email, password))
        with self.client.post(
            "/api/v1/auth/login",
            json={"email": email, "password": password},
            name="/auth/login",
            catch_response=True,
        ) as login:
            if login.ok:
                self.auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

    # ------------------------------------------------------------------ browsing

    @task(10)
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

    @task(8)
    def product(self) -> None:
        if not self.slugs:
            return
        with self.client.get(
            f"/api/v1/products/{random.choice(self.slugs)}",
            name="/products/{slug}",
            catch_response=True,
        ) as detail:
            if detail.ok:
                self.skus = [v["sku"] for v in detail.json()["variants"]][:5] or self.skus

    @task(4)
    def availability(self) -> None:
        if not self.skus:
            return
        with self.client.get(
            "/api/v1/availability", params={"sku": self.skus}, name="/availability",
            catch_response=True,
        ) as answer:  # fmt: skip
            if answer.ok:
                items = answer.json().get("items", [])
                self.in_stock = [
                    i["sku"] for i in items if i.get("known") and i.get("level") != "out_of_stock"
                ] or self.in_stock

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

    # ------------------------------------------------------------------ buying

    @task(2)
    def add_to_cart(self) -> bool:
        if not self.auth or not (self.in_stock or self.skus):
            return False
        sku = random.choice(self.in_stock or self.skus)
        with self.client.post(
            "/api/v1/cart/items",
            json={"sku": sku, "quantity": 1},
            headers=self.auth,
            name="/cart/items",
            catch_response=True,
        ) as answer:
            if answer.ok:
                return True
            if answer.status_code in (409, 422):  # out of stock, cart locked by a checkout
                answer.success()
                return False
            return False

    @task(1)
    def buy(self) -> None:
        """The whole journey: cart → checkout → the order's end (or abandoned 3-D Secure)."""
        if not self.buyer or not self.auth:
            return
        started = time.perf_counter()
        if not self.add_to_cart():
            return
        if self.address_id is None and not self.save_address():
            return
        choice = random.random()
        card = "pm_card_visa"
        if choice < self.options.decline_share:
            card = DECLINING_CARD
        elif choice < self.options.decline_share + self.options.three_d_secure_share:
            card = THREE_D_SECURE_CARD
        order = self.place_order(card)
        if order is None:
            self.journey("checkout refused", started, failed=True)
            return
        order = self.follow(order)
        if order.get("status") == "awaiting_payment":
            if self.authenticate(order):
                order = self.follow(order, until_not={"awaiting_payment", "pending"})
            else:
                self.journey("3-D Secure abandoned", started)
                return
        status, reason = order.get("status"), order.get("failure_reason")
        outcome = f"order {status}" + (f" ({reason})" if reason else "")
        expected = status == "confirmed" or reason in (
            "out_of_stock",
            "payment_declined",
            "authentication_failed",
        )
        self.journey(outcome, started, failed=not expected)

    def save_address(self) -> bool:
        with self.client.post(
            "/api/v1/me/addresses", json=ADDRESS, headers=self.auth, name="/me/addresses",
            catch_response=True,
        ) as answer:  # fmt: skip
            if answer.status_code == 201:
                self.address_id = answer.json()["id"]
                return True
            answer.failure(f"address {answer.status_code}")
            return False

    def place_order(self, card: str) -> dict | None:
        headers = {**self.auth, "Idempotency-Key": uuid.uuid4().hex}
        body = {"shipping_address_id": self.address_id, "payment_method": card}
        for _attempt in range(3):  # a retry with the same key is the same order
            with self.client.post(
                "/api/v1/checkout", json=body, headers=headers, name="/checkout",
                catch_response=True,
            ) as answer:  # fmt: skip
                if answer.status_code in (201, 202):
                    return answer.json()
                if answer.status_code == 409:  # cart empty or locked: expected under a race
                    answer.success()
                    return None
                if answer.status_code not in (502, 503, 504):
                    answer.failure(f"checkout {answer.status_code}: {answer.text[:200]}")
                    return None
                answer.failure(f"checkout {answer.status_code}")
            time.sleep(1.0)
        return None

    def follow(self, order: dict, until_not=frozenset({"pending"}), within: float = 60.0) -> dict:
        deadline = time.monotonic() + within
        while order.get("status") in until_not and time.monotonic() < deadline:
            time.sleep(0.25)
            with self.client.get(
                f"/api/v1/orders/{order['order_id']}", headers=self.auth, name="/orders/{id}",
                catch_response=True,
            ) as answer:  # fmt: skip
                if answer.ok:
                    order = answer.json()
        return order

    def authenticate(self, order: dict) -> bool:
        """Completes 3-D Secure as Stripe.js would, through payments' development route, when
        it is reachable and the order exposes the client secret; half the shoppers abandon."""
        payment = order.get("payment") or {}
        secret = payment.get("client_secret") or order.get("client_secret")
        if not (self.options.payments_url and secret and payment.get("id")):
            return False
        if random.random() < 0.5:
            return False
        with self.client.post(
            f"{self.options.payments_url}/api/v1/payments/dev/{payment['id']}/authenticate",
            json={"client_secret": secret, "success": True},
            name="/payments/dev/authenticate",
            catch_response=True,
        ) as answer:
            return answer.status_code == 202

    def journey(self, outcome: str, started: float, failed: bool = False) -> None:
        self.environment.events.request.fire(
            request_type="JOURNEY",
            name=outcome,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=RuntimeError(outcome) if failed else None,
            context={},
        )
