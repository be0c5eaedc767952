"""Identity's extra commands: `python -m vanity_identity create-admin|rotate-keys|retire-keys|jwks`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys

from vanity_common.errors import ServiceError
from vanity_common.migrations import migrate

from vanity_identity import keys as keyfiles
from vanity_identity.domain import PERMISSIONS, EmailInvalid
from vanity_identity.settings import IdentitySettings

PASSWORD_ENV = "IDENTITY_ADMIN_PASSWORD"


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if sys.stdin.isatty():
        first = getpass.getpass("Admin password: ")
        if first != getpass.getpass("Repeat password: "):
            raise SystemExit("create-admin: the passwords differ")
        return first
    return None


def create_admin(settings: IdentitySettings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="vanity_identity create-admin",
        description=(
            "Create an admin (or promote an existing account). The password comes from "
            f"--password-stdin, ${PASSWORD_ENV}, or an interactive prompt; there is no default."
        ),
    )
    parser.add_argument("--email", default=os.environ.get("IDENTITY_ADMIN_EMAIL"))
    parser.add_argument("--name", default=os.environ.get("IDENTITY_ADMIN_NAME", "Administrator"))
    parser.add_argument(
        "--perms",
        default=",".join(PERMISSIONS),
        help=f"comma-separated admin permissions (default: all of {','.join(PERMISSIONS)})",
    )
    parser.add_argument("--password-stdin", action="store_true")
    args = parser.parse_args(argv)
    if not args.email:
        if not sys.stdin.isatty():
            parser.error("--email (or IDENTITY_ADMIN_EMAIL) is required")
        args.email = input("Admin e-mail: ").strip()
    perms = [p.strip() for p in args.perms.split(",") if p.strip()]
    unknown = set(perms) - set(PERMISSIONS)
    if unknown:
        parser.error(f"unknown permissions: {', '.join(sorted(unknown))}")

    async def run() -> int:
        from vanity_identity.bootstrap import build_container

        settings.check_production()
        await migrate("vanity_identity", settings.database_url)
        async with build_container(settings, pool_size=2) as services:
            service = services.identity
            password = None
            from vanity_identity import repository
            from vanity_identity.domain import normalise_email

            async with services.db.connect() as conn:
                exists = await repository.user_id_by_email(conn, normalise_email(args.email))
            if not exists:
                password = _password(args)
                if not password:
                    print(
                        f"create-admin: no password given (use --password-stdin, "
                        f"${PASSWORD_ENV} or a terminal)",
                        file=sys.stderr,
                    )
                    return 2
            user, created = await service.create_admin(args.email, args.name, password, perms)
        verb = "created" if created else "promoted existing account"
        print(
            f"create-admin: {verb} {user.email} (id {user.id}, perms {','.join(sorted(user.permissions))})"
        )
        return 0

    try:
        return asyncio.run(run())
    except EmailInvalid as exc:
        print(f"create-admin: invalid e-mail: {exc}", file=sys.stderr)
    except ServiceError as exc:
        details = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        print(f"create-admin: {exc.message} {details}".strip(), file=sys.stderr)
    return 1


def rotate_keys(settings: IdentitySettings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="vanity_identity rotate-keys",
        description="Generate a new signing key pair and make it active (old public keys stay "
        "published until retire-keys). Then re-render the gateway: make gateway-config.",
    )
    parser.add_argument(
        "--stage",
        action="store_true",
        help="publish the new public key without signing with it yet (activate later with "
        "--activate KEY_ID once every verifier knows it)",
    )
    parser.add_argument("--activate", metavar="KEY_ID", help="make a staged key the signing key")
    args = parser.parse_args(argv)
    folder = settings.keys_dir
    if args.activate:
        keyfiles.activate(folder, args.activate)
        print(f"rotate-keys: {args.activate} is now the signing key")
        return 0
    previous = keyfiles.active_key_id(folder)
    key_id = keyfiles.rotate(folder, activate_now=not args.stage)
    state = "staged (not signing yet)" if args.stage else "active"
    print(f"rotate-keys: new key {key_id} {state}; previous signing key {previous or '-'}")
    print("rotate-keys: now run `make gateway-config` so Kong accepts the new key id")
    return 0


def retire_keys(settings: IdentitySettings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="vanity_identity retire-keys",
        description="Remove every key but the active one, once no token they signed can still "
        "be valid (the active key has signed for longer than the access-token lifetime).",
    )
    parser.add_argument("--force", action="store_true", help="retire now, whatever the age")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    plan = keyfiles.plan_retire(settings.keys_dir, settings.max_token_lifetime_seconds)
    if not plan.removable:
        print("retire-keys: nothing to retire")
        return 0
    if plan.wait_seconds and not args.force:
        print(
            f"retire-keys: {', '.join(plan.removable)} may still verify live tokens; "
            f"retry in {plan.wait_seconds} s (or --force)",
            file=sys.stderr,
        )
        return 3
    if args.dry_run:
        print(f"retire-keys: would retire {', '.join(plan.removable)}")
        return 0
    keyfiles.retire(settings.keys_dir, plan.removable)
    print(f"retire-keys: retired {', '.join(plan.removable)}; now run `make gateway-config`")
    return 0


def print_jwks(settings: IdentitySettings, argv: list[str]) -> int:
    store = keyfiles.KeyStore(settings.keys_dir)
    store.ensure(allow_generate=settings.allow_key_generation)
    print(json.dumps(store.jwks(), indent=2))
    return 0


COMMANDS = {
    "create-admin": create_admin,
    "rotate-keys": rotate_keys,
    "retire-keys": retire_keys,
    "jwks": print_jwks,
}
