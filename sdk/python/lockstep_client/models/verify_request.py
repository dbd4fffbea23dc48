from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.verify_request_bundle import VerifyRequestBundle


T = TypeVar("T", bound="VerifyRequest")


@_attrs_define
class VerifyRequest:
    """`POST /v1/evidence/verify`.

    Attributes:
        bundle (VerifyRequestBundle): An evidence bundle (`lockstep-evidence-bundle/v1`), e.g. the `bundle` member of
            `GET /v1/settlements/{id}/evidence`.
    """

    bundle: VerifyRequestBundle

    def to_dict(self) -> dict[str, Any]:
        bundle = self.bundle.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "bundle": bundle,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.verify_request_bundle import VerifyRequestBundle

        d = dict(src_dict)
        bundle = VerifyRequestBundle.from_dict(d.pop("bundle"))

        verify_request = cls(
            bundle=bundle,
        )

        return verify_request
