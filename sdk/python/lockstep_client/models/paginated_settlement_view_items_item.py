from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.settlement_state import SettlementState
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attestation import Attestation
    from ..models.observed_deposit import ObservedDeposit
    from ..models.owed_view import OwedView
    from ..models.paginated_settlement_view_items_item_compliance_type_0 import (
        PaginatedSettlementViewItemsItemComplianceType0,
    )
    from ..models.paginated_settlement_view_items_item_evidence_type_0 import (
        PaginatedSettlementViewItemsItemEvidenceType0,
    )
    from ..models.paginated_settlement_view_items_item_terms_type_0 import (
        PaginatedSettlementViewItemsItemTermsType0,
    )
    from ..models.party_view import PartyView
    from ..models.repo_view import RepoView


T = TypeVar("T", bound="PaginatedSettlementViewItemsItem")


@_attrs_define
class PaginatedSettlementViewItemsItem:
    """A settlement as the API shows it.

    Attributes:
        attestations (list[Attestation]): One EIP-712 registration attestation per chain.
        created_at (str): Creation time.
        id (str): Id (`stl_...`).
        parties (list[PartyView]): Every party, each confirmed by its instruction, in the template's role order.
        settlement_type (str): The template slug.
        state (SettlementState): A settlement's state (coordinator.md).
        timeout_at (str): Deadline.
        trade_reference (str): Trade reference shared by both instructions.
        updated_at (str): Last change.
        closing_settlement_id (None | str | Unset): A repo opening: its close, once registered.
        compliance (None | PaginatedSettlementViewItemsItemComplianceType0 | Unset): Screening report and any manual
            decision.
        decision_ref (None | str | Unset): Settlement-level decision ref (`sha256:<hex>`); its digest is the on-chain
            decisionRef.
        deposits (list[ObservedDeposit] | Unset): The deposits the escrows recorded (confirmed `LegDeposited` logs: who,
            which leg,
            chain, transaction, block time). Filled by `GET /v1/settlements/{id}` when the chain
            side's store is wired; empty in lists.
        evidence (None | PaginatedSettlementViewItemsItemEvidenceType0 | Unset): Every preimage and ref of the decision.
        owed (list[OwedView] | Unset): Legs the escrows could not pay and owe to their beneficiary, who claims them with
            `claim(token, to)` (escrow v2 `LegOwed`), by chain and leg. Filled by
            `GET /v1/settlements/{id}`; empty in lists.
        parent_settlement_id (None | str | Unset): A repo close: the opening it closes.
        repo (None | RepoView | Unset):
        terms (None | PaginatedSettlementViewItemsItemTermsType0 | Unset): The on-chain Terms (docs/onchain-terms.md),
            once cleared.
        terms_hash (None | str | Unset): `keccak256(abi.encode(terms))`.
    """

    attestations: list[Attestation]
    created_at: str
    id: str
    parties: list[PartyView]
    settlement_type: str
    state: SettlementState
    timeout_at: str
    trade_reference: str
    updated_at: str
    closing_settlement_id: None | str | Unset = UNSET
    compliance: None | PaginatedSettlementViewItemsItemComplianceType0 | Unset = UNSET
    decision_ref: None | str | Unset = UNSET
    deposits: list[ObservedDeposit] | Unset = UNSET
    evidence: None | PaginatedSettlementViewItemsItemEvidenceType0 | Unset = UNSET
    owed: list[OwedView] | Unset = UNSET
    parent_settlement_id: None | str | Unset = UNSET
    repo: None | RepoView | Unset = UNSET
    terms: None | PaginatedSettlementViewItemsItemTermsType0 | Unset = UNSET
    terms_hash: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.paginated_settlement_view_items_item_compliance_type_0 import (
            PaginatedSettlementViewItemsItemComplianceType0,
        )
        from ..models.paginated_settlement_view_items_item_evidence_type_0 import (
            PaginatedSettlementViewItemsItemEvidenceType0,
        )
        from ..models.paginated_settlement_view_items_item_terms_type_0 import (
            PaginatedSettlementViewItemsItemTermsType0,
        )
        from ..models.repo_view import RepoView

        attestations = []
        for attestations_item_data in self.attestations:
            attestations_item = attestations_item_data.to_dict()
            attestations.append(attestations_item)

        created_at = self.created_at

        id = self.id

        parties = []
        for parties_item_data in self.parties:
            parties_item = parties_item_data.to_dict()
            parties.append(parties_item)

        settlement_type = self.settlement_type

        state = self.state.value

        timeout_at = self.timeout_at

        trade_reference = self.trade_reference

        updated_at = self.updated_at

        closing_settlement_id: None | str | Unset
        if isinstance(self.closing_settlement_id, Unset):
            closing_settlement_id = UNSET
        else:
            closing_settlement_id = self.closing_settlement_id

        compliance: dict[str, Any] | None | Unset
        if isinstance(self.compliance, Unset):
            compliance = UNSET
        elif isinstance(
            self.compliance, PaginatedSettlementViewItemsItemComplianceType0
        ):
            compliance = self.compliance.to_dict()
        else:
            compliance = self.compliance

        decision_ref: None | str | Unset
        if isinstance(self.decision_ref, Unset):
            decision_ref = UNSET
        else:
            decision_ref = self.decision_ref

        deposits: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.deposits, Unset):
            deposits = []
            for deposits_item_data in self.deposits:
                deposits_item = deposits_item_data.to_dict()
                deposits.append(deposits_item)

        evidence: dict[str, Any] | None | Unset
        if isinstance(self.evidence, Unset):
            evidence = UNSET
        elif isinstance(self.evidence, PaginatedSettlementViewItemsItemEvidenceType0):
            evidence = self.evidence.to_dict()
        else:
            evidence = self.evidence

        owed: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.owed, Unset):
            owed = []
            for owed_item_data in self.owed:
                owed_item = owed_item_data.to_dict()
                owed.append(owed_item)

        parent_settlement_id: None | str | Unset
        if isinstance(self.parent_settlement_id, Unset):
            parent_settlement_id = UNSET
        else:
            parent_settlement_id = self.parent_settlement_id

        repo: dict[str, Any] | None | Unset
        if isinstance(self.repo, Unset):
            repo = UNSET
        elif isinstance(self.repo, RepoView):
            repo = self.repo.to_dict()
        else:
            repo = self.repo

        terms: dict[str, Any] | None | Unset
        if isinstance(self.terms, Unset):
            terms = UNSET
        elif isinstance(self.terms, PaginatedSettlementViewItemsItemTermsType0):
            terms = self.terms.to_dict()
        else:
            terms = self.terms

        terms_hash: None | str | Unset
        if isinstance(self.terms_hash, Unset):
            terms_hash = UNSET
        else:
            terms_hash = self.terms_hash

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attestations": attestations,
                "created_at": created_at,
                "id": id,
                "parties": parties,
                "settlement_type": settlement_type,
                "state": state,
                "timeout_at": timeout_at,
                "trade_reference": trade_reference,
                "updated_at": updated_at,
            }
        )
        if closing_settlement_id is not UNSET:
            field_dict["closing_settlement_id"] = closing_settlement_id
        if compliance is not UNSET:
            field_dict["compliance"] = compliance
        if decision_ref is not UNSET:
            field_dict["decision_ref"] = decision_ref
        if deposits is not UNSET:
            field_dict["deposits"] = deposits
        if evidence is not UNSET:
            field_dict["evidence"] = evidence
        if owed is not UNSET:
            field_dict["owed"] = owed
        if parent_settlement_id is not UNSET:
            field_dict["parent_settlement_id"] = parent_settlement_id
        if repo is not UNSET:
            field_dict["repo"] = repo
        if terms is not UNSET:
            field_dict["terms"] = terms
        if terms_hash is not UNSET:
            field_dict["terms_hash"] = terms_hash

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.attestation import Attestation
        from ..models.observed_deposit import ObservedDeposit
        from ..models.owed_view import OwedView
        from ..models.paginated_settlement_view_items_item_compliance_type_0 import (
            PaginatedSettlementViewItemsItemComplianceType0,
        )
        from ..models.paginated_settlement_view_items_item_evidence_type_0 import (
            PaginatedSettlementViewItemsItemEvidenceType0,
        )
        from ..models.paginated_settlement_view_items_item_terms_type_0 import (
            PaginatedSettlementViewItemsItemTermsType0,
        )
        from ..models.party_view import PartyView
        from ..models.repo_view import RepoView

        d = dict(src_dict)
        attestations = []
        _attestations = d.pop("attestations")
        for attestations_item_data in _attestations:
            attestations_item = Attestation.from_dict(attestations_item_data)

            attestations.append(attestations_item)

        created_at = d.pop("created_at")

        id = d.pop("id")

        parties = []
        _parties = d.pop("parties")
        for parties_item_data in _parties:
            parties_item = PartyView.from_dict(parties_item_data)

            parties.append(parties_item)

        settlement_type = d.pop("settlement_type")

        state = SettlementState(d.pop("state"))

        timeout_at = d.pop("timeout_at")

        trade_reference = d.pop("trade_reference")

        updated_at = d.pop("updated_at")

        def _parse_closing_settlement_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        closing_settlement_id = _parse_closing_settlement_id(
            d.pop("closing_settlement_id", UNSET)
        )

        def _parse_compliance(
            data: object,
        ) -> None | PaginatedSettlementViewItemsItemComplianceType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                compliance_type_0 = (
                    PaginatedSettlementViewItemsItemComplianceType0.from_dict(data)
                )

                return compliance_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                None | PaginatedSettlementViewItemsItemComplianceType0 | Unset, data
            )

        compliance = _parse_compliance(d.pop("compliance", UNSET))

        def _parse_decision_ref(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        decision_ref = _parse_decision_ref(d.pop("decision_ref", UNSET))

        _deposits = d.pop("deposits", UNSET)
        deposits: list[ObservedDeposit] | Unset = UNSET
        if _deposits is not UNSET:
            deposits = []
            for deposits_item_data in _deposits:
                deposits_item = ObservedDeposit.from_dict(deposits_item_data)

                deposits.append(deposits_item)

        def _parse_evidence(
            data: object,
        ) -> None | PaginatedSettlementViewItemsItemEvidenceType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                evidence_type_0 = (
                    PaginatedSettlementViewItemsItemEvidenceType0.from_dict(data)
                )

                return evidence_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                None | PaginatedSettlementViewItemsItemEvidenceType0 | Unset, data
            )

        evidence = _parse_evidence(d.pop("evidence", UNSET))

        _owed = d.pop("owed", UNSET)
        owed: list[OwedView] | Unset = UNSET
        if _owed is not UNSET:
            owed = []
            for owed_item_data in _owed:
                owed_item = OwedView.from_dict(owed_item_data)

                owed.append(owed_item)

        def _parse_parent_settlement_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        parent_settlement_id = _parse_parent_settlement_id(
            d.pop("parent_settlement_id", UNSET)
        )

        def _parse_repo(data: object) -> None | RepoView | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                repo_type_1 = RepoView.from_dict(data)

                return repo_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RepoView | Unset, data)

        repo = _parse_repo(d.pop("repo", UNSET))

        def _parse_terms(
            data: object,
        ) -> None | PaginatedSettlementViewItemsItemTermsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                terms_type_0 = PaginatedSettlementViewItemsItemTermsType0.from_dict(
                    data
                )

                return terms_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PaginatedSettlementViewItemsItemTermsType0 | Unset, data)

        terms = _parse_terms(d.pop("terms", UNSET))

        def _parse_terms_hash(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        terms_hash = _parse_terms_hash(d.pop("terms_hash", UNSET))

        paginated_settlement_view_items_item = cls(
            attestations=attestations,
            created_at=created_at,
            id=id,
            parties=parties,
            settlement_type=settlement_type,
            state=state,
            timeout_at=timeout_at,
            trade_reference=trade_reference,
            updated_at=updated_at,
            closing_settlement_id=closing_settlement_id,
            compliance=compliance,
            decision_ref=decision_ref,
            deposits=deposits,
            evidence=evidence,
            owed=owed,
            parent_settlement_id=parent_settlement_id,
            repo=repo,
            terms=terms,
            terms_hash=terms_hash,
        )

        paginated_settlement_view_items_item.additional_properties = d
        return paginated_settlement_view_items_item

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
