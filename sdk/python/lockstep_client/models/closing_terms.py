from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.closing_side import ClosingSide


T = TypeVar("T", bound="ClosingTerms")


@_attrs_define
class ClosingTerms:
    """What the close will settle, fixed at opening (docs/evidence.md "Repo binding").

    Attributes:
        buyer (ClosingSide): One side of the close.
        maturity_at (str): The window opens (RFC 3339): the close is registered automatically from then on.
        parent_settlement_id (str): The opening settlement.
        parent_trade_reference (str): The opening's trade reference.
        repayment_amount (str): The cash the close pays back (decimal base units).
        seller (ClosingSide): One side of the close.
        settlement_type (str): The template (`repo`).
        timeout_at (str): The window closes (RFC 3339): the close's deadline, maturity plus the template's
            `close_window_secs`.
        trade_reference (str): The close's trade reference: the opening's with `-CLOSE` appended (its on-chain
            settlement id is `keccak256` of it, like any trade reference's).
        version (str): `lockstep-repo-close/v1`.
        repo_rate (None | str | Unset): The agreed rate as the instructions stated it (informational), or null.
    """

    buyer: ClosingSide
    maturity_at: str
    parent_settlement_id: str
    parent_trade_reference: str
    repayment_amount: str
    seller: ClosingSide
    settlement_type: str
    timeout_at: str
    trade_reference: str
    version: str
    repo_rate: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        buyer = self.buyer.to_dict()

        maturity_at = self.maturity_at

        parent_settlement_id = self.parent_settlement_id

        parent_trade_reference = self.parent_trade_reference

        repayment_amount = self.repayment_amount

        seller = self.seller.to_dict()

        settlement_type = self.settlement_type

        timeout_at = self.timeout_at

        trade_reference = self.trade_reference

        version = self.version

        repo_rate: None | str | Unset
        if isinstance(self.repo_rate, Unset):
            repo_rate = UNSET
        else:
            repo_rate = self.repo_rate

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "buyer": buyer,
                "maturity_at": maturity_at,
                "parent_settlement_id": parent_settlement_id,
                "parent_trade_reference": parent_trade_reference,
                "repayment_amount": repayment_amount,
                "seller": seller,
                "settlement_type": settlement_type,
                "timeout_at": timeout_at,
                "trade_reference": trade_reference,
                "version": version,
            }
        )
        if repo_rate is not UNSET:
            field_dict["repo_rate"] = repo_rate

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.closing_side import ClosingSide

        d = dict(src_dict)
        buyer = ClosingSide.from_dict(d.pop("buyer"))

        maturity_at = d.pop("maturity_at")

        parent_settlement_id = d.pop("parent_settlement_id")

        parent_trade_reference = d.pop("parent_trade_reference")

        repayment_amount = d.pop("repayment_amount")

        seller = ClosingSide.from_dict(d.pop("seller"))

        settlement_type = d.pop("settlement_type")

        timeout_at = d.pop("timeout_at")

        trade_reference = d.pop("trade_reference")

        version = d.pop("version")

        def _parse_repo_rate(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        repo_rate = _parse_repo_rate(d.pop("repo_rate", UNSET))

        closing_terms = cls(
            buyer=buyer,
            maturity_at=maturity_at,
            parent_settlement_id=parent_settlement_id,
            parent_trade_reference=parent_trade_reference,
            repayment_amount=repayment_amount,
            seller=seller,
            settlement_type=settlement_type,
            timeout_at=timeout_at,
            trade_reference=trade_reference,
            version=version,
            repo_rate=repo_rate,
        )

        return closing_terms
