"""How long a disabled account's access token still works at another service (issue 16,
finding 7): identity and checkout run in this process on a throwaway SQLite folder, checkout's
verifier polls identity's ended sessions in the background as it does in `make run`; an admin
disables a signed-in account and checkout is asked every 5 ms until it refuses the token.

    .venv/bin/python -m tools.measure_revocation [--rounds 20] [--interval 1.0]

Prints each delay and the min / median / max. Expect about half the polling interval on
average and at most the interval plus one identity round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from vanity_checkout.app import create_app as create_checkout
from vanity_checkout.settings import CheckoutSettings
from vanity_common.auth import Principal
from vanity_common.migrations import migrate
from vanity_identity.app import create_app as create_identity
from vanity_identity.settings import IdentitySettings

PASSWORD = "correct horse battery staple"
PROBE_EVERY_S = 0.005


async def measure(rounds: int, interval: float, folder: Path) -> list[float]:
    identity_db = f"sqlite+aiosqlite:///{folder / 'identity.db'}"
    checkout_db = f"sqlite+aiosqlite:///{folder / 'checkout.db'}"
    await migrate("vanity_identity", identity_db)
    await migrate("vanity_checkout", checkout_db)
    common = {"data_dir": folder, "keys_dir": folder / "keys", "log_level": "ERROR"}
    identity_app = create_identity(
        IdentitySettings(
            env="test",
            database_url=identity_db,
            grpc_port=0,
            argon2_time_cost=1,
            argon2_memory_cost_kib=8192,
            argon2_parallelism=1,
            register_ip_limits="",  # every shopper here signs up from one address
            login_ip_limits="",
            access_log=False,
            **common,
        )
    )
    delays = []
    async with LifespanManager(identity_app):
        checkout_app = create_checkout(
            CheckoutSettings(
                database_url=checkout_db,
                grpc_enabled=False,
                identity_grpc_target=f"127.0.0.1:{identity_app.state.grpc_port}",
                ended_sessions_refresh_seconds=interval,
                access_log=False,
                **common,
            )
        )
        async with (
            LifespanManager(checkout_app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=identity_app), base_url="http://identity"
            ) as identity,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=checkout_app), base_url="http://checkout"
            ) as checkout,
        ):
            service = identity_app.state.container.identity
            admin, _ = await service.create_admin("root@vanity.shop", "Root", PASSWORD)
            signed_in = await identity.post(
                "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
            )
            actor = Principal(  # admin use cases check the acting admin's session and roles
                user_id=admin.id,
                roles=frozenset(admin.roles),
                perms=frozenset(admin.permissions),
                session_id=signed_in.json()["session_id"],
            )
            for n in range(rounds):
                email = f"shopper{n}@example.com"
                await identity.post(
                    "/api/v1/auth/register",
                    json={"email": email, "name": "Shopper", "password": PASSWORD},
                )
                login = await identity.post(
                    "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
                )
                tokens = login.json()
                headers = {"Authorization": f"Bearer {tokens['access_token']}"}
                assert (await checkout.get("/api/v1/orders", headers=headers)).status_code == 200
                # Start at a random phase of the polling cycle, as a real disable would.
                await asyncio.sleep((n * 0.37 % 1.0) * interval)
                await service.set_disabled(actor, tokens["user"]["id"], True)
                disabled_at = time.perf_counter()
                # A client's view: ask again until refused (nothing inside to wait on).
                while (await checkout.get("/api/v1/orders", headers=headers)).status_code == 200:  # noqa: ASYNC110
                    await asyncio.sleep(PROBE_EVERY_S)
                delays.append(time.perf_counter() - disabled_at)
                print(f"round {n + 1:2d}: refused after {delays[-1] * 1000:7.1f} ms", flush=True)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--interval", type=float, default=1.0, help="ENDED_SESSIONS_REFRESH_SECONDS"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        delays = asyncio.run(measure(args.rounds, args.interval, Path(folder)))
    ms = sorted(d * 1000 for d in delays)
    print(
        f"disable -> refused at checkout (poll every {args.interval:g} s, {len(ms)} rounds): "
        f"min {ms[0]:.0f} ms, median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
