from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.deposit_authorization import DepositAuthorization
from ..types import UNSET, Unset

T = TypeVar("T", bound="Party")


@_attrs_define
class Party:
    """The submitting party.

    Attributes:
        chain_id (int): The wallet's chain (a configured chain).
        external_reference (str): The platform's own reference for the party or order (not blank; no control,
            invisible format, separator, private-use or unassigned characters).
        name (str): Legal name (screened; the same character rules).
        wallet_address (str): The party's wallet (EIP-55 checksum required when mixed-case; receives the counter-leg).
        deposit_address (None | str | Unset): `depositor` mode only: the custody address that sends the deposits, when
            it is not
            `wallet_address` (EIP-55 checksum required when mixed-case). Refunds go back to it.
        deposit_authorization (DepositAuthorization | None | Unset):
    """

    chain_id: int
    external_reference: str
    name: str
    wallet_address: str
    deposit_address: None | str | Unset = UNSET
    deposit_authorization: DepositAuthorization | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        chain_id = self.chain_id

        external_reference = self.external_reference

        name = self.name

        wallet_address = self.wallet_address

        deposit_address: None | str | Unset
        if isinstance(self.deposit_address, Unset):
            deposit_address = UNSET
        else:
            deposit_address = self.deposit_address

        deposit_authorization: None | str | Unset
        if isinstance(self.deposit_authorization, Unset):
            deposit_authorization = UNSET
        elif isinstance(self.deposit_authorization, DepositAuthorization):
            deposit_authorization = self.deposit_authorization.value
        else:
            deposit_authorization = self.deposit_authorization

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "chain_id": chain_id,
                "external_reference": external_reference,
                "name": name,
                "wallet_address": wallet_address,
            }
        )
        if deposit_address is not UNSET:
            field_dict["deposit_address"] = deposit_address
        if deposit_authorization is not UNSET:
            field_dict["deposit_authorization"] = deposit_authorization

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        chain_id = d.pop("chain_id")

        external_reference = d.pop("external_reference")

        name = d.pop("name")

        wallet_address = d.pop("wallet_address")

        def _parse_deposit_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deposit_address = _parse_deposit_address(d.pop("deposit_address", UNSET))

        def _parse_deposit_authorization(
            data: object,
        ) -> DepositAuthorization | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                deposit_authorization_type_1 = DepositAuthorization(data)

                return deposit_authorization_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DepositAuthorization | None | Unset, data)

        deposit_authorization = _parse_deposit_authorization(
            d.pop("deposit_authorization", UNSET)
        )

        party = cls(
            chain_id=chain_id,
            external_reference=external_reference,
            name=name,
            wallet_address=wallet_address,
            deposit_address=deposit_address,
            deposit_authorization=deposit_authorization,
        )

        return party
