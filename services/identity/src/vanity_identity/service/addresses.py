"""The address book of an account (checkout reads it over gRPC)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection
from vanity_common.errors import FailedPrecondition, FieldError, InvalidArgument, NotFound
from vanity_common.uow import UnitOfWork

from vanity_identity import repository as repo
from vanity_identity.domain import MAX_ADDRESSES_PER_USER, Address, address_problems
from vanity_identity.service.base import IdentityParts
from vanity_identity.tokens import new_id


class Addresses(IdentityParts):
    async def list_addresses(self, user_id: str) -> list[Address]:
        async with self.db.connect() as conn:
            return await repo.list_addresses(conn, user_id)

    async def get_address(self, user_id: str, address_id: str) -> Address:
        async with self.db.connect() as conn:
            address = await repo.address_for_user(conn, user_id, address_id)
        if address is None:
            raise NotFound("No such address.", reason="ADDRESS_NOT_FOUND")
        return address

    @staticmethod
    def _clean_address(values: dict, *, partial: bool) -> dict:
        problems = address_problems(values, partial=partial)
        if problems:
            raise InvalidArgument(
                f"Invalid address: {', '.join(sorted(problems))}",
                errors=[FieldError(k, v) for k, v in sorted(problems.items())],
            )
        cleaned = {}
        for key, value in values.items():
            if key in ("is_default_shipping", "is_default_billing"):
                cleaned[key] = bool(value)
            elif value is not None:
                cleaned[key] = " ".join(str(value).split())
        if "country" in cleaned:
            cleaned["country"] = cleaned["country"].upper()
        return cleaned

    @staticmethod
    async def _apply_defaults(
        conn: AsyncConnection, user_id: str, address_id: str, values: dict
    ) -> None:
        for column in ("is_default_shipping", "is_default_billing"):
            if values.get(column):
                await repo.clear_default(conn, user_id=user_id, column=column, except_id=address_id)

    async def create_address(self, user_id: str, values: dict) -> Address:
        cleaned = self._clean_address(values, partial=False)
        address_id = new_id()
        now = self.now()

        async def insert(uow: UnitOfWork) -> None:
            if not await repo.lock_user_row(uow.conn, user_id):
                raise NotFound("No such user.", reason="USER_NOT_FOUND")
            count = await repo.count_addresses(uow.conn, user_id)
            if count >= MAX_ADDRESSES_PER_USER:
                raise FailedPrecondition(
                    f"At most {MAX_ADDRESSES_PER_USER} addresses per account.",
                    reason="TOO_MANY_ADDRESSES",
                )
            # The first address is the default for both (a copy: a re-run starts afresh).
            values = {"is_default_shipping": True, "is_default_billing": True} if count == 0 else {}
            values.update(cleaned)
            await repo.insert_address(
                uow.conn, address_id=address_id, user_id=user_id, values=values, now=now
            )
            await self._apply_defaults(uow.conn, user_id, address_id, values)

        await self.db.write(insert)
        return await self.get_address(user_id, address_id)

    async def update_address(self, user_id: str, address_id: str, values: dict) -> Address:
        cleaned = self._clean_address(values, partial=True)
        now = self.now()

        async def update(uow: UnitOfWork) -> None:
            await repo.lock_user_row(uow.conn, user_id)
            found = await repo.update_address(
                uow.conn, address_id=address_id, user_id=user_id, values=cleaned, now=now
            )
            if not found:
                raise NotFound("No such address.", reason="ADDRESS_NOT_FOUND")
            await self._apply_defaults(uow.conn, user_id, address_id, cleaned)

        await self.db.write(update)
        return await self.get_address(user_id, address_id)

    async def delete_address(self, user_id: str, address_id: str) -> None:
        async def delete(uow: UnitOfWork) -> None:
            if not await repo.delete_address(uow.conn, address_id=address_id, user_id=user_id):
                raise NotFound("No such address.", reason="ADDRESS_NOT_FOUND")

        await self.db.write(delete)
