from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.role import Role

if TYPE_CHECKING:
    from ..models.leg_spec import LegSpec


T = TypeVar("T", bound="RoleLegs")


@_attrs_define
class RoleLegs:
    """The legs one role of a multi-role template provides.

    Attributes:
        legs (list[LegSpec]): Its legs, by type and direction (from the role's point of view).
        role (Role): A party's role in the trade. Which roles a trade needs, and which legs each provides,
            is the template's (data); two-role templates use `seller` and `buyer`.
    """

    legs: list[LegSpec]
    role: Role

    def to_dict(self) -> dict[str, Any]:
        legs = []
        for legs_item_data in self.legs:
            legs_item = legs_item_data.to_dict()
            legs.append(legs_item)

        role = self.role.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "legs": legs,
                "role": role,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.leg_spec import LegSpec

        d = dict(src_dict)
        legs = []
        _legs = d.pop("legs")
        for legs_item_data in _legs:
            legs_item = LegSpec.from_dict(legs_item_data)

            legs.append(legs_item)

        role = Role(d.pop("role"))

        role_legs = cls(
            legs=legs,
            role=role,
        )

        return role_legs
