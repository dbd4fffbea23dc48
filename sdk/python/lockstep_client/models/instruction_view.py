from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.instruction_status import InstructionStatus
from ..models.role import Role
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.leg_input import LegInput
    from ..models.match_view import MatchView
    from ..models.party import Party


T = TypeVar("T", bound="InstructionView")


@_attrs_define
class InstructionView:
    """An instruction as the API shows it.

    Attributes:
        created_at (str): Creation time.
        expires_at (str): When a pending instruction expires.
        id (str): Id (`ins_...`).
        legs (list[LegInput]): Legs (addresses checksummed).
        party (Party): The submitting party.
        role (Role): A party's role in the trade. Which roles a trade needs, and which legs each provides,
            is the template's (data); two-role templates use `seller` and `buyer`.
        status (InstructionStatus): Where an instruction stands. Stored and serialised in snake case.
        template_slug (str): Template.
        timeout_at (str): Deadline of the settlement.
        trade_reference (str): Shared by both sides of the trade.
        updated_at (str): Last change.
        counterparty_platform_id (None | str | Unset): The only platform this instruction may be matched with, when it
            names one.
        counterparty_platform_ids (list[str] | None | Unset): Multi-role templates: the platforms allowed to take the
            other roles, when named.
        match (MatchView | None | Unset):
        settlement_id (None | str | Unset): The settlement, once matched.
    """

    created_at: str
    expires_at: str
    id: str
    legs: list[LegInput]
    party: Party
    role: Role
    status: InstructionStatus
    template_slug: str
    timeout_at: str
    trade_reference: str
    updated_at: str
    counterparty_platform_id: None | str | Unset = UNSET
    counterparty_platform_ids: list[str] | None | Unset = UNSET
    match: MatchView | None | Unset = UNSET
    settlement_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.match_view import MatchView

        created_at = self.created_at

        expires_at = self.expires_at

        id = self.id

        legs = []
        for legs_item_data in self.legs:
            legs_item = legs_item_data.to_dict()
            legs.append(legs_item)

        party = self.party.to_dict()

        role = self.role.value

        status = self.status.value

        template_slug = self.template_slug

        timeout_at = self.timeout_at

        trade_reference = self.trade_reference

        updated_at = self.updated_at

        counterparty_platform_id: None | str | Unset
        if isinstance(self.counterparty_platform_id, Unset):
            counterparty_platform_id = UNSET
        else:
            counterparty_platform_id = self.counterparty_platform_id

        counterparty_platform_ids: list[str] | None | Unset
        if isinstance(self.counterparty_platform_ids, Unset):
            counterparty_platform_ids = UNSET
        elif isinstance(self.counterparty_platform_ids, list):
            counterparty_platform_ids = self.counterparty_platform_ids

        else:
            counterparty_platform_ids = self.counterparty_platform_ids

        match: dict[str, Any] | None | Unset
        if isinstance(self.match, Unset):
            match = UNSET
        elif isinstance(self.match, MatchView):
            match = self.match.to_dict()
        else:
            match = self.match

        settlement_id: None | str | Unset
        if isinstance(self.settlement_id, Unset):
            settlement_id = UNSET
        else:
            settlement_id = self.settlement_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "expires_at": expires_at,
                "id": id,
                "legs": legs,
                "party": party,
                "role": role,
                "status": status,
                "template_slug": template_slug,
                "timeout_at": timeout_at,
                "trade_reference": trade_reference,
                "updated_at": updated_at,
            }
        )
        if counterparty_platform_id is not UNSET:
            field_dict["counterparty_platform_id"] = counterparty_platform_id
        if counterparty_platform_ids is not UNSET:
            field_dict["counterparty_platform_ids"] = counterparty_platform_ids
        if match is not UNSET:
            field_dict["match"] = match
        if settlement_id is not UNSET:
            field_dict["settlement_id"] = settlement_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.leg_input import LegInput
        from ..models.match_view import MatchView
        from ..models.party import Party

        d = dict(src_dict)
        created_at = d.pop("created_at")

        expires_at = d.pop("expires_at")

        id = d.pop("id")

        legs = []
        _legs = d.pop("legs")
        for legs_item_data in _legs:
            legs_item = LegInput.from_dict(legs_item_data)

            legs.append(legs_item)

        party = Party.from_dict(d.pop("party"))

        role = Role(d.pop("role"))

        status = InstructionStatus(d.pop("status"))

        template_slug = d.pop("template_slug")

        timeout_at = d.pop("timeout_at")

        trade_reference = d.pop("trade_reference")

        updated_at = d.pop("updated_at")

        def _parse_counterparty_platform_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        counterparty_platform_id = _parse_counterparty_platform_id(
            d.pop("counterparty_platform_id", UNSET)
        )

        def _parse_counterparty_platform_ids(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                counterparty_platform_ids_type_0 = cast(list[str], data)

                return counterparty_platform_ids_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        counterparty_platform_ids = _parse_counterparty_platform_ids(
            d.pop("counterparty_platform_ids", UNSET)
        )

        def _parse_match(data: object) -> MatchView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                match_type_1 = MatchView.from_dict(data)

                return match_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MatchView | None | Unset, data)

        match = _parse_match(d.pop("match", UNSET))

        def _parse_settlement_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        settlement_id = _parse_settlement_id(d.pop("settlement_id", UNSET))

        instruction_view = cls(
            created_at=created_at,
            expires_at=expires_at,
            id=id,
            legs=legs,
            party=party,
            role=role,
            status=status,
            template_slug=template_slug,
            timeout_at=timeout_at,
            trade_reference=trade_reference,
            updated_at=updated_at,
            counterparty_platform_id=counterparty_platform_id,
            counterparty_platform_ids=counterparty_platform_ids,
            match=match,
            settlement_id=settlement_id,
        )

        instruction_view.additional_properties = d
        return instruction_view

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
