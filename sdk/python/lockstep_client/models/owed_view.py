from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="OwedView")


@_attrs_define
class OwedView:
    """A leg owed on chain, as the API shows it.

    Attributes:
        amount (str): Amount, base units (decimal string).
        beneficiary (str): Who may claim it (`claim(token, to)` from this address): the recipient when the
            release failed, the depositor when the refund failed.
        chain_id (int): EVM chain id of the escrow that owes it.
        escrow (str): That escrow.
        leg_index (int): Index of the leg in the terms.
        recorded_at (str): When the coordinator recorded it (RFC 3339).
        refund (bool): `true`: a refund to the depositor failed; `false`: a release to the recipient.
        token (str): The ERC-20.
        tx_hash (str): The transaction that recorded it.
    """

    amount: str
    beneficiary: str
    chain_id: int
    escrow: str
    leg_index: int
    recorded_at: str
    refund: bool
    token: str
    tx_hash: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        beneficiary = self.beneficiary

        chain_id = self.chain_id

        escrow = self.escrow

        leg_index = self.leg_index

        recorded_at = self.recorded_at

        refund = self.refund

        token = self.token

        tx_hash = self.tx_hash

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "beneficiary": beneficiary,
                "chain_id": chain_id,
                "escrow": escrow,
                "leg_index": leg_index,
                "recorded_at": recorded_at,
                "refund": refund,
                "token": token,
                "tx_hash": tx_hash,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        amount = d.pop("amount")

        beneficiary = d.pop("beneficiary")

        chain_id = d.pop("chain_id")

        escrow = d.pop("escrow")

        leg_index = d.pop("leg_index")

        recorded_at = d.pop("recorded_at")

        refund = d.pop("refund")

        token = d.pop("token")

        tx_hash = d.pop("tx_hash")

        owed_view = cls(
            amount=amount,
            beneficiary=beneficiary,
            chain_id=chain_id,
            escrow=escrow,
            leg_index=leg_index,
            recorded_at=recorded_at,
            refund=refund,
            token=token,
            tx_hash=tx_hash,
        )

        owed_view.additional_properties = d
        return owed_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
