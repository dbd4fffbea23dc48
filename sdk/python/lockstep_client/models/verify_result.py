from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.check_outcome import CheckOutcome


T = TypeVar("T", bound="VerifyResult")


@_attrs_define
class VerifyResult:
    """What `POST /v1/evidence/verify` found.

    Attributes:
        offline (CheckOutcome): One check's outcome.
        passed (bool): `true` when the bundle recomputes and, where the chains are configured, every anchor
            holds on its chain.
        chains (CheckOutcome | None | Unset):
    """

    offline: CheckOutcome
    passed: bool
    chains: CheckOutcome | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.check_outcome import CheckOutcome

        offline = self.offline.to_dict()

        passed = self.passed

        chains: dict[str, Any] | None | Unset
        if isinstance(self.chains, Unset):
            chains = UNSET
        elif isinstance(self.chains, CheckOutcome):
            chains = self.chains.to_dict()
        else:
            chains = self.chains

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "offline": offline,
                "passed": passed,
            }
        )
        if chains is not UNSET:
            field_dict["chains"] = chains

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.check_outcome import CheckOutcome

        d = dict(src_dict)
        offline = CheckOutcome.from_dict(d.pop("offline"))

        passed = d.pop("passed")

        def _parse_chains(data: object) -> CheckOutcome | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                chains_type_1 = CheckOutcome.from_dict(data)

                return chains_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CheckOutcome | None | Unset, data)

        chains = _parse_chains(d.pop("chains", UNSET))

        verify_result = cls(
            offline=offline,
            passed=passed,
            chains=chains,
        )

        verify_result.additional_properties = d
        return verify_result

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
