from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.role import Role
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.leg_input import LegInput
    from ..models.party import Party


T = TypeVar("T", bound="InstructionRequest")


@_attrs_define
class InstructionRequest:
    """`POST /v1/instructions`.

    Attributes:
        idempotency_key (str): Unique per platform; the same key and body replays the first answer (not blank;
            the character rules of `party.name`).
        legs (list[LegInput]): The legs the role provides: one per leg type of a two-role template, the role's
            `role_legs` entry of a multi-role one.
        party (Party): The submitting party.
        role (Role): A party's role in the trade. Which roles a trade needs, and which legs each provides,
            is the template's (data); two-role templates use `seller` and `buyer`.
        template_slug (str): A template slug (`GET /v1/templates`), e.g. `dvp-standard`, `cross-chain-dvp` or
            the three-role `dvp-fx`.
        timeout_at (str): RFC 3339 deadline of the settlement: in the future, and no further out than the
            escrows' `maxSettlementDuration` (or 30 days).
        counterparty_platform_id (None | str | Unset): Optional: the only platform (`plt_...`) this instruction may be
            matched with. On a
            first side it binds the trade reference, so no other platform can match it (nor
            learn that it exists); on a second side it matches only a first side from that
            platform. Absent: any platform holding the trade reference may match it.
        counterparty_platform_ids (list[str] | None | Unset): Multi-role templates only, instead of
            `counterparty_platform_id`: the platforms
            allowed to take the other roles. On a first side it binds the trade reference (any
            other platform sees it as unknown); on a later side every party already waiting
            must be from one of them. Absent: any platform holding the reference may join.
        maturity_at (datetime.datetime | None | Unset): Template `repo` only (required there, refused elsewhere): RFC
            3339 maturity of the
            repo, when the closing settlement is registered. After `timeout_at`; maturity plus
            the template's `close_window_secs` at most the escrows' `maxSettlementDuration`
            (or 30 days) from now. Both sides state the same instant.
        repayment_amount (None | str | Unset): Template `repo` only (required there): what the cash provider (`buyer`)
            is repaid
            at maturity, decimal base units of the payment leg's token (uint256, above 0). It
            is the closing settlement's payment quantity. Both sides state the same amount.
        repo_rate (None | str | Unset): Template `repo` only, optional and informational: the agreed repo rate, a
            decimal
            string (percent per annum, e.g. `"5.25"`). When one side states it, both must state
            the same number.
        trade_reference (None | str | Unset): Null for the first side; the first side's trade reference for the second
            (`LS-`
            and a ULID, as issued).
    """

    idempotency_key: str
    legs: list[LegInput]
    party: Party
    role: Role
    template_slug: str
    timeout_at: str
    counterparty_platform_id: None | str | Unset = UNSET
    counterparty_platform_ids: list[str] | None | Unset = UNSET
    maturity_at: datetime.datetime | None | Unset = UNSET
    repayment_amount: None | str | Unset = UNSET
    repo_rate: None | str | Unset = UNSET
    trade_reference: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        idempotency_key = self.idempotency_key

        legs = []
        for legs_item_data in self.legs:
            legs_item = legs_item_data.to_dict()
            legs.append(legs_item)

        party = self.party.to_dict()

        role = self.role.value

        template_slug = self.template_slug

        timeout_at = self.timeout_at

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

        maturity_at: None | str | Unset
        if isinstance(self.maturity_at, Unset):
            maturity_at = UNSET
        elif isinstance(self.maturity_at, datetime.datetime):
            maturity_at = self.maturity_at.isoformat()
        else:
            maturity_at = self.maturity_at

        repayment_amount: None | str | Unset
        if isinstance(self.repayment_amount, Unset):
            repayment_amount = UNSET
        else:
            repayment_amount = self.repayment_amount

        repo_rate: None | str | Unset
        if isinstance(self.repo_rate, Unset):
            repo_rate = UNSET
        else:
            repo_rate = self.repo_rate

        trade_reference: None | str | Unset
        if isinstance(self.trade_reference, Unset):
            trade_reference = UNSET
        else:
            trade_reference = self.trade_reference

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "idempotency_key": idempotency_key,
                "legs": legs,
                "party": party,
                "role": role,
                "template_slug": template_slug,
                "timeout_at": timeout_at,
            }
        )
        if counterparty_platform_id is not UNSET:
            field_dict["counterparty_platform_id"] = counterparty_platform_id
        if counterparty_platform_ids is not UNSET:
            field_dict["counterparty_platform_ids"] = counterparty_platform_ids
        if maturity_at is not UNSET:
            field_dict["maturity_at"] = maturity_at
        if repayment_amount is not UNSET:
            field_dict["repayment_amount"] = repayment_amount
        if repo_rate is not UNSET:
            field_dict["repo_rate"] = repo_rate
        if trade_reference is not UNSET:
            field_dict["trade_reference"] = trade_reference

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.leg_input import LegInput
        from ..models.party import Party

        d = dict(src_dict)
        idempotency_key = d.pop("idempotency_key")

        legs = []
        _legs = d.pop("legs")
        for legs_item_data in _legs:
            legs_item = LegInput.from_dict(legs_item_data)

            legs.append(legs_item)

        party = Party.from_dict(d.pop("party"))

        role = Role(d.pop("role"))

        template_slug = d.pop("template_slug")

        timeout_at = d.pop("timeout_at")

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

        def _parse_maturity_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                maturity_at_type_0 = datetime.datetime.fromisoformat(data)

                return maturity_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        maturity_at = _parse_maturity_at(d.pop("maturity_at", UNSET))

        def _parse_repayment_amount(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        repayment_amount = _parse_repayment_amount(d.pop("repayment_amount", UNSET))

        def _parse_repo_rate(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        repo_rate = _parse_repo_rate(d.pop("repo_rate", UNSET))

        def _parse_trade_reference(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        trade_reference = _parse_trade_reference(d.pop("trade_reference", UNSET))

        instruction_request = cls(
            idempotency_key=idempotency_key,
            legs=legs,
            party=party,
            role=role,
            template_slug=template_slug,
            timeout_at=timeout_at,
            counterparty_platform_id=counterparty_platform_id,
            counterparty_platform_ids=counterparty_platform_ids,
            maturity_at=maturity_at,
            repayment_amount=repayment_amount,
            repo_rate=repo_rate,
            trade_reference=trade_reference,
        )

        return instruction_request
