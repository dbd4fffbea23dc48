from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.manual_decision import ManualDecision
from ..types import UNSET, Unset

T = TypeVar("T", bound="DecisionRequest")


@_attrs_define
class DecisionRequest:
    """A manual compliance decision.

    Attributes:
        decision (ManualDecision): A manual compliance decision.
        reason (None | str | Unset): Why (kept with the compliance record).
    """

    decision: ManualDecision
    reason: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        decision = self.decision.value

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "decision": decision,
            }
        )
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        decision = ManualDecision(d.pop("decision"))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        decision_request = cls(
            decision=decision,
            reason=reason,
        )

        return decision_request
