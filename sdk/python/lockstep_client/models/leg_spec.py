from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.direction import Direction
from ..models.leg_type import LegType

T = TypeVar("T", bound="LegSpec")


@_attrs_define
class LegSpec:
    """One leg a role provides: what it moves and whether the role delivers or receives it.

    Attributes:
        direction (Direction): The leg's direction from the submitting party's point of view.
        leg_type (LegType): What a leg moves.
    """

    direction: Direction
    leg_type: LegType

    def to_dict(self) -> dict[str, Any]:
        direction = self.direction.value

        leg_type = self.leg_type.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "direction": direction,
                "leg_type": leg_type,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        direction = Direction(d.pop("direction"))

        leg_type = LegType(d.pop("leg_type"))

        leg_spec = cls(
            direction=direction,
            leg_type=leg_type,
        )

        return leg_spec
