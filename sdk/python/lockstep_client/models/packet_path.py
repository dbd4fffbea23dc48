from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PacketPath")


@_attrs_define
class PacketPath:
    """A packet's path: source and destination chain and LayerZero endpoint ids.

    Attributes:
        dst_eid (int): Destination endpoint id.
        src_chain_id (int): Source EVM chain id.
        src_eid (int): Source endpoint id.
        dst_chain_id (int | None | Unset): Destination EVM chain id (`null` when no configured escrow has `dst_eid`).
    """

    dst_eid: int
    src_chain_id: int
    src_eid: int
    dst_chain_id: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        dst_eid = self.dst_eid

        src_chain_id = self.src_chain_id

        src_eid = self.src_eid

        dst_chain_id: int | None | Unset
        if isinstance(self.dst_chain_id, Unset):
            dst_chain_id = UNSET
        else:
            dst_chain_id = self.dst_chain_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "dst_eid": dst_eid,
                "src_chain_id": src_chain_id,
                "src_eid": src_eid,
            }
        )
        if dst_chain_id is not UNSET:
            field_dict["dst_chain_id"] = dst_chain_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        dst_eid = d.pop("dst_eid")

        src_chain_id = d.pop("src_chain_id")

        src_eid = d.pop("src_eid")

        def _parse_dst_chain_id(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        dst_chain_id = _parse_dst_chain_id(d.pop("dst_chain_id", UNSET))

        packet_path = cls(
            dst_eid=dst_eid,
            src_chain_id=src_chain_id,
            src_eid=src_eid,
            dst_chain_id=dst_chain_id,
        )

        packet_path.additional_properties = d
        return packet_path

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
