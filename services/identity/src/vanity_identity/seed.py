"""Development demo data: one customer, `demo@vanity.shop`, with a password generated on the
first seed and written to `<data_dir>/demo-credentials.txt`. Never a fixed password, no admin."""

from __future__ import annotations

import os
import secrets

from vanity_identity.settings import IdentitySettings

DEMO_EMAIL = "demo@vanity.shop"
DEMO_NAME = "Demo Customer"


async def seed(settings: IdentitySettings) -> None:
    if settings.env != "development":
        print(f"identity seed: skipped (ENV={settings.env}; demo data is for development only)")
        return
    from vanity_identity.bootstrap import build_container

    async with build_container(settings, pool_size=2) as services:
        service, db = services.identity, services.db
        async with db.connect() as conn:
            from vanity_identity import repository

            if await repository.user_id_by_email(conn, DEMO_EMAIL):
                return
        password = secrets.token_urlsafe(12)
        await service.register(DEMO_EMAIL, DEMO_NAME, password)
        path = settings.data_dir / "demo-credentials.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"email: {DEMO_EMAIL}\npassword: {password}\n")
        print(f"identity seed: demo customer {DEMO_EMAIL} / {password} (saved in {path})")
