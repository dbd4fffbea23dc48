from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.direction import Direction
from ..models.leg_type import LegType

T = TypeVar("T", bound="LegInput")


@_attrs_define
class LegInput:
    """One leg as a party sees it.

    Attributes:
        chain_id (int): The chain the token lives on (a configured chain).
        direction (Direction): The leg's direction from the submitting party's point of view.
        instrument_id (str): The ERC-20 token address (EIP-55 checksum required when mixed-case).
        leg_type (LegType): What a leg moves.
        quantity (str): Decimal string of base units (uint256, above 0), e.g. `"1000000"`.
    """

    chain_id: int
    direction: Direction
    instrument_id: str
    leg_type: LegType
    quantity: str

    def to_dict(self) -> dict[str, Any]:
        chain_id = self.chain_id

        direction = self.direction.value

        instrument_id = self.instrument_id

        leg_type = self.leg_type.value

        quantity = self.quantity

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "chain_id": chain_id,
                "direction": direction,
                "instrument_id": instrument_id,
                "leg_type": leg_type,
                "quantity": quantity,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        chain_id = d.pop("chain_id")

        direction = Direction(d.pop("direction"))

        instrument_id = d.pop("instrument_id")

        leg_type = LegType(d.pop("leg_type"))

        quantity = d.pop("quantity")

        leg_input = cls(
            chain_id=chain_id,
            direction=direction,
            instrument_id=instrument_id,
            leg_type=leg_type,
            quantity=quantity,
        )

        return leg_input
