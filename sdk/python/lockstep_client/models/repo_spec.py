from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="RepoSpec")


@_attrs_define
class RepoSpec:
    """The repo parameters of a template (data).

    Attributes:
        close_window_secs (int): Length of the close's window, seconds: the close's deadline is `maturity_at` plus
            this. At least 60.
    """

    close_window_secs: int

    def to_dict(self) -> dict[str, Any]:
        close_window_secs = self.close_window_secs

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "close_window_secs": close_window_secs,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        close_window_secs = d.pop("close_window_secs")

        repo_spec = cls(
            close_window_secs=close_window_secs,
        )

        return repo_spec
