from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="RecoverRequest")


@_attrs_define
class RecoverRequest:
    """Recover failed deliveries: `since` (RFC 3339) bounds their creation time.

    Attributes:
        since (str): Deliveries created at or after this time (RFC 3339).
    """

    since: str

    def to_dict(self) -> dict[str, Any]:
        since = self.since

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "since": since,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        since = d.pop("since")

        recover_request = cls(
            since=since,
        )

        return recover_request
