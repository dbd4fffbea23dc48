from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.delivery_status import DeliveryStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attempt import Attempt
    from ..models.paginated_delivery_items_item_payload import (
        PaginatedDeliveryItemsItemPayload,
    )


T = TypeVar("T", bound="PaginatedDeliveryItemsItem")


@_attrs_define
class PaginatedDeliveryItemsItem:
    """A delivery and its attempts.

    Attributes:
        attempt_log (list[Attempt]): Every attempt.
        attempts (int): Attempts so far.
        created_at (str): Creation time.
        event (str): Event type.
        event_id (str): The event id (the `webhook-id` header).
        id (str): Id (`dlv_...`).
        payload (PaginatedDeliveryItemsItemPayload): The payload.
        status (DeliveryStatus): Where a delivery stands. Stored and serialised in lower case.
        next_attempt_at (None | str | Unset): Next attempt (pending only).
    """

    attempt_log: list[Attempt]
    attempts: int
    created_at: str
    event: str
    event_id: str
    id: str
    payload: PaginatedDeliveryItemsItemPayload
    status: DeliveryStatus
    next_attempt_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt_log = []
        for attempt_log_item_data in self.attempt_log:
            attempt_log_item = attempt_log_item_data.to_dict()
            attempt_log.append(attempt_log_item)

        attempts = self.attempts

        created_at = self.created_at

        event = self.event

        event_id = self.event_id

        id = self.id

        payload = self.payload.to_dict()

        status = self.status.value

        next_attempt_at: None | str | Unset
        if isinstance(self.next_attempt_at, Unset):
            next_attempt_at = UNSET
        else:
            next_attempt_at = self.next_attempt_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempt_log": attempt_log,
                "attempts": attempts,
                "created_at": created_at,
                "event": event,
                "event_id": event_id,
                "id": id,
                "payload": payload,
                "status": status,
            }
        )
        if next_attempt_at is not UNSET:
            field_dict["next_attempt_at"] = next_attempt_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.attempt import Attempt
        from ..models.paginated_delivery_items_item_payload import (
            PaginatedDeliveryItemsItemPayload,
        )

        d = dict(src_dict)
        attempt_log = []
        _attempt_log = d.pop("attempt_log")
        for attempt_log_item_data in _attempt_log:
            attempt_log_item = Attempt.from_dict(attempt_log_item_data)

            attempt_log.append(attempt_log_item)

        attempts = d.pop("attempts")

        created_at = d.pop("created_at")

        event = d.pop("event")

        event_id = d.pop("event_id")

        id = d.pop("id")

        payload = PaginatedDeliveryItemsItemPayload.from_dict(d.pop("payload"))

        status = DeliveryStatus(d.pop("status"))

        def _parse_next_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at", UNSET))

        paginated_delivery_items_item = cls(
            attempt_log=attempt_log,
            attempts=attempts,
            created_at=created_at,
            event=event,
            event_id=event_id,
            id=id,
            payload=payload,
            status=status,
            next_attempt_at=next_attempt_at,
        )

        paginated_delivery_items_item.additional_properties = d
        return paginated_delivery_items_item

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
