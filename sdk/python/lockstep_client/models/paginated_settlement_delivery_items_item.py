from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.delivery_status import DeliveryStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attempt import Attempt
    from ..models.delivery_payload import DeliveryPayload


T = TypeVar("T", bound="PaginatedSettlementDeliveryItemsItem")


@_attrs_define
class PaginatedSettlementDeliveryItemsItem:
    """A delivery of a settlement's event, with the platform and endpoint it went to.

    Attributes:
        attempt_log (list[Attempt]): Every attempt.
        attempts (int): Attempts so far.
        created_at (str): Creation time.
        event (str): Event type.
        event_id (str): The event id (the `webhook-id` header).
        id (str): Id (`dlv_...`).
        payload (DeliveryPayload): The payload.
        status (DeliveryStatus): Where a delivery stands. Stored and serialised in lower case.
        endpoint_id (str): The endpoint it was posted to.
        platform_id (str): The platform the event was for.
        next_attempt_at (None | str | Unset): Next attempt (pending only).
    """

    attempt_log: list[Attempt]
    attempts: int
    created_at: str
    event: str
    event_id: str
    id: str
    payload: DeliveryPayload
    status: DeliveryStatus
    endpoint_id: str
    platform_id: str
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

        endpoint_id = self.endpoint_id

        platform_id = self.platform_id

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
                "endpoint_id": endpoint_id,
                "platform_id": platform_id,
            }
        )
        if next_attempt_at is not UNSET:
            field_dict["next_attempt_at"] = next_attempt_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.attempt import Attempt
        from ..models.delivery_payload import DeliveryPayload

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

        payload = DeliveryPayload.from_dict(d.pop("payload"))

        status = DeliveryStatus(d.pop("status"))

        endpoint_id = d.pop("endpoint_id")

        platform_id = d.pop("platform_id")

        def _parse_next_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at", UNSET))

        paginated_settlement_delivery_items_item = cls(
            attempt_log=attempt_log,
            attempts=attempts,
            created_at=created_at,
            event=event,
            event_id=event_id,
            id=id,
            payload=payload,
            status=status,
            endpoint_id=endpoint_id,
            platform_id=platform_id,
            next_attempt_at=next_attempt_at,
        )

        paginated_settlement_delivery_items_item.additional_properties = d
        return paginated_settlement_delivery_items_item

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
