from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PartyView")


@_attrs_define
class PartyView:
    """A party of a settlement.

    Attributes:
        instruction_id (str): The platform's instruction.
        platform_id (str): The party's platform.
        role (str): `seller`, `buyer` or another role of a multi-party template (`fx_provider`).
    """

    instruction_id: str
    platform_id: str
    role: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        instruction_id = self.instruction_id

        platform_id = self.platform_id

        role = self.role

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "instruction_id": instruction_id,
                "platform_id": platform_id,
                "role": role,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        instruction_id = d.pop("instruction_id")

        platform_id = d.pop("platform_id")

        role = d.pop("role")

        party_view = cls(
            instruction_id=instruction_id,
            platform_id=platform_id,
            role=role,
        )

        party_view.additional_properties = d
        return party_view

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
