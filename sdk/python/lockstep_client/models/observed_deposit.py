from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ObservedDeposit")


@_attrs_define
class ObservedDeposit:
    """One deposit an escrow recorded.

    Attributes:
        amount (str): Base units, decimal.
        block_number (int): Its block.
        block_timestamp (int): Its block's timestamp, unix seconds.
        chain_id (int): The chain.
        depositor (str): The address whose tokens went into the escrow.
        leg_index (int): The leg of the terms.
        token (str): The token.
        tx_hash (str): The deposit's transaction.
    """

    amount: str
    block_number: int
    block_timestamp: int
    chain_id: int
    depositor: str
    leg_index: int
    token: str
    tx_hash: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        block_number = self.block_number

        block_timestamp = self.block_timestamp

        chain_id = self.chain_id

        depositor = self.depositor

        leg_index = self.leg_index

        token = self.token

        tx_hash = self.tx_hash

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "block_number": block_number,
                "block_timestamp": block_timestamp,
                "chain_id": chain_id,
                "depositor": depositor,
                "leg_index": leg_index,
                "token": token,
                "tx_hash": tx_hash,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        amount = d.pop("amount")

        block_number = d.pop("block_number")

        block_timestamp = d.pop("block_timestamp")

        chain_id = d.pop("chain_id")

        depositor = d.pop("depositor")

        leg_index = d.pop("leg_index")

        token = d.pop("token")

        tx_hash = d.pop("tx_hash")

        observed_deposit = cls(
            amount=amount,
            block_number=block_number,
            block_timestamp=block_timestamp,
            chain_id=chain_id,
            depositor=depositor,
            leg_index=leg_index,
            token=token,
            tx_hash=tx_hash,
        )

        observed_deposit.additional_properties = d
        return observed_deposit

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
