from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.message_kind import MessageKind
from ..models.packet_status import PacketStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.packet_path import PacketPath


T = TypeVar("T", bound="PacketView")


@_attrs_define
class PacketView:
    """One LayerZero packet an escrow sent, as the relayer tracks it.

    Attributes:
        attempts (int): Failed delivery passes so far (waiting for an earlier nonce is not one).
        created_at (str): When the relayer queued it (RFC 3339).
        guid (str): Guid (0x, lowercase).
        next_attempt_at (str): When the relayer's next pass is due (RFC 3339; in the past: due now).
        nonce (int): Nonce on its path (delivered in order).
        path (PacketPath): A packet's path: source and destination chain and LayerZero endpoint ids.
        status (PacketStatus): Where a packet stands; stored in `lz_packets.state` by the names of
            [`PacketStatus::as_str`]
            (`pending -> verified -> committed -> delivered`). A readable packet is never abandoned:
            it stays in its open status, retried with capped backoff, until the destination shows it
            delivered. Only a `PacketSent` that cannot be parsed is `unreadable`.
        updated_at (str): Last change (RFC 3339).
        blocked_on_nonce (int | None | Unset): The earlier nonce of its path it waits for, if it does.
        blocked_since (None | str | Unset): Since when it waits for that nonce (RFC 3339).
        delivered_tx_hash (None | str | Unset): The `lzReceive` transaction, once delivered by this relayer.
        last_error (None | str | Unset): The last pass's error, or why it waits.
        message_kind (MessageKind | None | Unset):
        onchain_settlement_id (None | str | Unset): The on-chain settlement id (`Terms.settlementId`), when the message
            decodes.
        settlement_id (None | str | Unset): The coordinator's settlement (`stl_...`), when the message decodes and the
            settlement
            is known here.
    """

    attempts: int
    created_at: str
    guid: str
    next_attempt_at: str
    nonce: int
    path: PacketPath
    status: PacketStatus
    updated_at: str
    blocked_on_nonce: int | None | Unset = UNSET
    blocked_since: None | str | Unset = UNSET
    delivered_tx_hash: None | str | Unset = UNSET
    last_error: None | str | Unset = UNSET
    message_kind: MessageKind | None | Unset = UNSET
    onchain_settlement_id: None | str | Unset = UNSET
    settlement_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempts = self.attempts

        created_at = self.created_at

        guid = self.guid

        next_attempt_at = self.next_attempt_at

        nonce = self.nonce

        path = self.path.to_dict()

        status = self.status.value

        updated_at = self.updated_at

        blocked_on_nonce: int | None | Unset
        if isinstance(self.blocked_on_nonce, Unset):
            blocked_on_nonce = UNSET
        else:
            blocked_on_nonce = self.blocked_on_nonce

        blocked_since: None | str | Unset
        if isinstance(self.blocked_since, Unset):
            blocked_since = UNSET
        else:
            blocked_since = self.blocked_since

        delivered_tx_hash: None | str | Unset
        if isinstance(self.delivered_tx_hash, Unset):
            delivered_tx_hash = UNSET
        else:
            delivered_tx_hash = self.delivered_tx_hash

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        message_kind: None | str | Unset
        if isinstance(self.message_kind, Unset):
            message_kind = UNSET
        elif isinstance(self.message_kind, MessageKind):
            message_kind = self.message_kind.value
        else:
            message_kind = self.message_kind

        onchain_settlement_id: None | str | Unset
        if isinstance(self.onchain_settlement_id, Unset):
            onchain_settlement_id = UNSET
        else:
            onchain_settlement_id = self.onchain_settlement_id

        settlement_id: None | str | Unset
        if isinstance(self.settlement_id, Unset):
            settlement_id = UNSET
        else:
            settlement_id = self.settlement_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "created_at": created_at,
                "guid": guid,
                "next_attempt_at": next_attempt_at,
                "nonce": nonce,
                "path": path,
                "status": status,
                "updated_at": updated_at,
            }
        )
        if blocked_on_nonce is not UNSET:
            field_dict["blocked_on_nonce"] = blocked_on_nonce
        if blocked_since is not UNSET:
            field_dict["blocked_since"] = blocked_since
        if delivered_tx_hash is not UNSET:
            field_dict["delivered_tx_hash"] = delivered_tx_hash
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if message_kind is not UNSET:
            field_dict["message_kind"] = message_kind
        if onchain_settlement_id is not UNSET:
            field_dict["onchain_settlement_id"] = onchain_settlement_id
        if settlement_id is not UNSET:
            field_dict["settlement_id"] = settlement_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.packet_path import PacketPath

        d = dict(src_dict)
        attempts = d.pop("attempts")

        created_at = d.pop("created_at")

        guid = d.pop("guid")

        next_attempt_at = d.pop("next_attempt_at")

        nonce = d.pop("nonce")

        path = PacketPath.from_dict(d.pop("path"))

        status = PacketStatus(d.pop("status"))

        updated_at = d.pop("updated_at")

        def _parse_blocked_on_nonce(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        blocked_on_nonce = _parse_blocked_on_nonce(d.pop("blocked_on_nonce", UNSET))

        def _parse_blocked_since(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        blocked_since = _parse_blocked_since(d.pop("blocked_since", UNSET))

        def _parse_delivered_tx_hash(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        delivered_tx_hash = _parse_delivered_tx_hash(d.pop("delivered_tx_hash", UNSET))

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        def _parse_message_kind(data: object) -> MessageKind | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                message_kind_type_1 = MessageKind(data)

                return message_kind_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MessageKind | None | Unset, data)

        message_kind = _parse_message_kind(d.pop("message_kind", UNSET))

        def _parse_onchain_settlement_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        onchain_settlement_id = _parse_onchain_settlement_id(
            d.pop("onchain_settlement_id", UNSET)
        )

        def _parse_settlement_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        settlement_id = _parse_settlement_id(d.pop("settlement_id", UNSET))

        packet_view = cls(
            attempts=attempts,
            created_at=created_at,
            guid=guid,
            next_attempt_at=next_attempt_at,
            nonce=nonce,
            path=path,
            status=status,
            updated_at=updated_at,
            blocked_on_nonce=blocked_on_nonce,
            blocked_since=blocked_since,
            delivered_tx_hash=delivered_tx_hash,
            last_error=last_error,
            message_kind=message_kind,
            onchain_settlement_id=onchain_settlement_id,
            settlement_id=settlement_id,
        )

        packet_view.additional_properties = d
        return packet_view

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
