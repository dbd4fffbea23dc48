from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.leg_input import LegInput
    from ..models.party import Party


T = TypeVar("T", bound="ClosingSide")


@_attrs_define
class ClosingSide:
    """One side of the close.

    Attributes:
        legs (list[LegInput]): Its opening legs reversed (the payment leg's quantity the repayment amount).
        party (Party): The submitting party.
    """

    legs: list[LegInput]
    party: Party

    def to_dict(self) -> dict[str, Any]:
        legs = []
        for legs_item_data in self.legs:
            legs_item = legs_item_data.to_dict()
            legs.append(legs_item)

        party = self.party.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "legs": legs,
                "party": party,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.leg_input import LegInput
        from ..models.party import Party

        d = dict(src_dict)
        legs = []
        _legs = d.pop("legs")
        for legs_item_data in _legs:
            legs_item = LegInput.from_dict(legs_item_data)

            legs.append(legs_item)

        party = Party.from_dict(d.pop("party"))

        closing_side = cls(
            legs=legs,
            party=party,
        )

        return closing_side
