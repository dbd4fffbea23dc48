from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Attestation")


@_attrs_define
class Attestation:
    """A signed registration for one chain (EIP-712, docs/onchain-terms.md).

    Attributes:
        attester (str): The attester's address.
        chain_id (int): EVM chain id of the escrow.
        eid (int): LayerZero endpoint id of that chain.
        escrow (str): The escrow (EIP-712 verifying contract).
        signature (str): 65 bytes `r || s || v`, 0x-hex.
    """

    attester: str
    chain_id: int
    eid: int
    escrow: str
    signature: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attester = self.attester

        chain_id = self.chain_id

        eid = self.eid

        escrow = self.escrow

        signature = self.signature

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attester": attester,
                "chain_id": chain_id,
                "eid": eid,
                "escrow": escrow,
                "signature": signature,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        attester = d.pop("attester")

        chain_id = d.pop("chain_id")

        eid = d.pop("eid")

        escrow = d.pop("escrow")

        signature = d.pop("signature")

        attestation = cls(
            attester=attester,
            chain_id=chain_id,
            eid=eid,
            escrow=escrow,
            signature=signature,
        )

        attestation.additional_properties = d
        return attestation

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
