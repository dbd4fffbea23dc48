from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.paginated_verifier_health_items_item import (
        PaginatedVerifierHealthItemsItem,
    )


T = TypeVar("T", bound="PaginatedVerifierHealth")


@_attrs_define
class PaginatedVerifierHealth:
    """A page of results.

    Attributes:
        items (list[PaginatedVerifierHealthItemsItem]): This page.
        limit (int): Page size.
        offset (int): Offset.
        total (int): All matching items.
    """

    items: list[PaginatedVerifierHealthItemsItem]
    limit: int
    offset: int
    total: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        limit = self.limit

        offset = self.offset

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "items": items,
                "limit": limit,
                "offset": offset,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.paginated_verifier_health_items_item import (
            PaginatedVerifierHealthItemsItem,
        )

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = PaginatedVerifierHealthItemsItem.from_dict(items_item_data)

            items.append(items_item)

        limit = d.pop("limit")

        offset = d.pop("offset")

        total = d.pop("total")

        paginated_verifier_health = cls(
            items=items,
            limit=limit,
            offset=offset,
            total=total,
        )

        paginated_verifier_health.additional_properties = d
        return paginated_verifier_health

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
