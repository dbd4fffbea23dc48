from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.repo_status import RepoStatus

if TYPE_CHECKING:
    from ..models.closing_terms import ClosingTerms


T = TypeVar("T", bound="RepoView")


@_attrs_define
class RepoView:
    """A repo opening as the API shows it.

    Attributes:
        closing_terms (ClosingTerms): What the close will settle, fixed at opening (docs/evidence.md "Repo binding").
        closing_terms_ref (str): `sha256:<hex>` over the JCS form of `closing_terms`, bound into the opening's
            decision evidence (`terms.repo.closing_terms_ref`).
        maturity_at (str): When the close is due (RFC 3339).
        status (RepoStatus): The repo's status, kept on the opening (docs/coordinator.md "Repo"):

            `open` --(close registered)--> `closing` --(close FINALIZED)--> `closed`
            `closing` --(close TIMED_OUT or ROLLED_BACK)--> `close_failed`

            `open` covers the opening's whole life and a finalised opening waiting for maturity;
            an opening that does not finalise stays `open` with nothing to close.
    """

    closing_terms: ClosingTerms
    closing_terms_ref: str
    maturity_at: str
    status: RepoStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        closing_terms = self.closing_terms.to_dict()

        closing_terms_ref = self.closing_terms_ref

        maturity_at = self.maturity_at

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "closing_terms": closing_terms,
                "closing_terms_ref": closing_terms_ref,
                "maturity_at": maturity_at,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.closing_terms import ClosingTerms

        d = dict(src_dict)
        closing_terms = ClosingTerms.from_dict(d.pop("closing_terms"))

        closing_terms_ref = d.pop("closing_terms_ref")

        maturity_at = d.pop("maturity_at")

        status = RepoStatus(d.pop("status"))

        repo_view = cls(
            closing_terms=closing_terms,
            closing_terms_ref=closing_terms_ref,
            maturity_at=maturity_at,
            status=status,
        )

        repo_view.additional_properties = d
        return repo_view

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
