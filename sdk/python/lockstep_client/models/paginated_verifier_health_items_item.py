from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.paginated_verifier_health_items_item_detail import (
        PaginatedVerifierHealthItemsItemDetail,
    )


T = TypeVar("T", bound="PaginatedVerifierHealthItemsItem")


@_attrs_define
class PaginatedVerifierHealthItemsItem:
    """One configured verifier's `/healthz`.

    Attributes:
        detail (PaginatedVerifierHealthItemsItemDetail): Its JSON body (per chain: cursor, refusing, failing), or why it
            could not be read.
        healthy (bool): `true` when it answered 200.
        url (str): The configured URL.
        status (int | None | Unset): Its HTTP status, `null` when it did not answer.
    """

    detail: PaginatedVerifierHealthItemsItemDetail
    healthy: bool
    url: str
    status: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        detail = self.detail.to_dict()

        healthy = self.healthy

        url = self.url

        status: int | None | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        else:
            status = self.status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "detail": detail,
                "healthy": healthy,
                "url": url,
            }
        )
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.paginated_verifier_health_items_item_detail import (
            PaginatedVerifierHealthItemsItemDetail,
        )

        d = dict(src_dict)
        detail = PaginatedVerifierHealthItemsItemDetail.from_dict(d.pop("detail"))

        healthy = d.pop("healthy")

        url = d.pop("url")

        def _parse_status(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        paginated_verifier_health_items_item = cls(
            detail=detail,
            healthy=healthy,
            url=url,
            status=status,
        )

        paginated_verifier_health_items_item.additional_properties = d
        return paginated_verifier_health_items_item

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
