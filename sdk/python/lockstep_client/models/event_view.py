from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.settlement_state import SettlementState
from ..types import UNSET, Unset

T = TypeVar("T", bound="EventView")


@_attrs_define
class EventView:
    """One entry of the transition trail.

    Attributes:
        at (str): When.
        cause (str): Why.
        hash_ (str): `sha256:` over the JCS form of `{settlement_id, seq, from_state, to_state, cause, at, prev_hash}`.
        seq (int): 1-based position in the trail.
        to_state (SettlementState): A settlement's state (coordinator.md).
        from_state (None | SettlementState | Unset):
        prev_hash (None | str | Unset): Hash of the previous event.
    """

    at: str
    cause: str
    hash_: str
    seq: int
    to_state: SettlementState
    from_state: None | SettlementState | Unset = UNSET
    prev_hash: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        at = self.at

        cause = self.cause

        hash_ = self.hash_

        seq = self.seq

        to_state = self.to_state.value

        from_state: None | str | Unset
        if isinstance(self.from_state, Unset):
            from_state = UNSET
        elif isinstance(self.from_state, SettlementState):
            from_state = self.from_state.value
        else:
            from_state = self.from_state

        prev_hash: None | str | Unset
        if isinstance(self.prev_hash, Unset):
            prev_hash = UNSET
        else:
            prev_hash = self.prev_hash

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "at": at,
                "cause": cause,
                "hash": hash_,
                "seq": seq,
                "to_state": to_state,
            }
        )
        if from_state is not UNSET:
            field_dict["from_state"] = from_state
        if prev_hash is not UNSET:
            field_dict["prev_hash"] = prev_hash

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        at = d.pop("at")

        cause = d.pop("cause")

        hash_ = d.pop("hash")

        seq = d.pop("seq")

        to_state = SettlementState(d.pop("to_state"))

        def _parse_from_state(data: object) -> None | SettlementState | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                from_state_type_1 = SettlementState(data)

                return from_state_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SettlementState | Unset, data)

        from_state = _parse_from_state(d.pop("from_state", UNSET))

        def _parse_prev_hash(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        prev_hash = _parse_prev_hash(d.pop("prev_hash", UNSET))

        event_view = cls(
            at=at,
            cause=cause,
            hash_=hash_,
            seq=seq,
            to_state=to_state,
            from_state=from_state,
            prev_hash=prev_hash,
        )

        event_view.additional_properties = d
        return event_view

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
