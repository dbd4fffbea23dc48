from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.paginated_template_items_item_transitions_item_item_type_0 import (
    PaginatedTemplateItemsItemTransitionsItemItemType0,
)
from ..models.paginated_template_items_item_transitions_item_item_type_1 import (
    PaginatedTemplateItemsItemTransitionsItemItemType1,
)
from ..models.settlement_state import SettlementState
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.repo_spec import RepoSpec
    from ..models.role_legs import RoleLegs


T = TypeVar("T", bound="PaginatedTemplateItemsItem")


@_attrs_define
class PaginatedTemplateItemsItem:
    """A settlement template.

    Attributes:
        compliance_providers (list[str]): Screening providers run for this template (when configured).
        description (str): What it settles.
        name (str): Human name.
        required_leg_types (list[str]): Leg types each instruction must contain (two-role templates; a multi-role
            template lists the leg types its roles use and states them per role in `role_legs`).
        required_roles (list[str]): Roles that must be present, one instruction each.
        single_chain (bool): Whether every leg must be on one chain.
        slug (str): Identifier used by instructions (`template_slug`).
        states (list[SettlementState]): States a settlement of this template passes through.
        transitions (list[list[PaginatedTemplateItemsItemTransitionsItemItemType0 |
            PaginatedTemplateItemsItemTransitionsItemItemType1]]): Allowed edges; a subset of the coordinator's one
            transition table.
        allow_same_platform (bool | Unset): Whether both sides may come from one platform (an internalised trade). When
            false, an instruction never matches one of its own platform's, and naming one's
            own platform as `counterparty_platform_id` is refused.
        repo (None | RepoSpec | Unset):
        role_legs (list[RoleLegs] | Unset): Multi-role templates (more than two `required_roles`): the legs each role
            provides, as (leg type, direction) pairs; an instruction for the role carries
            exactly these. Empty for two-role templates, whose rule is one leg per leg type.
    """

    compliance_providers: list[str]
    description: str
    name: str
    required_leg_types: list[str]
    required_roles: list[str]
    single_chain: bool
    slug: str
    states: list[SettlementState]
    transitions: list[
        list[
            PaginatedTemplateItemsItemTransitionsItemItemType0
            | PaginatedTemplateItemsItemTransitionsItemItemType1
        ]
    ]
    allow_same_platform: bool | Unset = UNSET
    repo: None | RepoSpec | Unset = UNSET
    role_legs: list[RoleLegs] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.repo_spec import RepoSpec

        compliance_providers = self.compliance_providers

        description = self.description

        name = self.name

        required_leg_types = self.required_leg_types

        required_roles = self.required_roles

        single_chain = self.single_chain

        slug = self.slug

        states = []
        for states_item_data in self.states:
            states_item = states_item_data.value
            states.append(states_item)

        transitions = []
        for transitions_item_data in self.transitions:
            transitions_item = []
            for transitions_item_item_data in transitions_item_data:
                transitions_item_item: str
                if isinstance(
                    transitions_item_item_data,
                    PaginatedTemplateItemsItemTransitionsItemItemType0,
                ):
                    transitions_item_item = transitions_item_item_data.value
                else:
                    transitions_item_item = transitions_item_item_data.value

                transitions_item.append(transitions_item_item)

            transitions.append(transitions_item)

        allow_same_platform = self.allow_same_platform

        repo: dict[str, Any] | None | Unset
        if isinstance(self.repo, Unset):
            repo = UNSET
        elif isinstance(self.repo, RepoSpec):
            repo = self.repo.to_dict()
        else:
            repo = self.repo

        role_legs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.role_legs, Unset):
            role_legs = []
            for role_legs_item_data in self.role_legs:
                role_legs_item = role_legs_item_data.to_dict()
                role_legs.append(role_legs_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "compliance_providers": compliance_providers,
                "description": description,
                "name": name,
                "required_leg_types": required_leg_types,
                "required_roles": required_roles,
                "single_chain": single_chain,
                "slug": slug,
                "states": states,
                "transitions": transitions,
            }
        )
        if allow_same_platform is not UNSET:
            field_dict["allow_same_platform"] = allow_same_platform
        if repo is not UNSET:
            field_dict["repo"] = repo
        if role_legs is not UNSET:
            field_dict["role_legs"] = role_legs

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.repo_spec import RepoSpec
        from ..models.role_legs import RoleLegs

        d = dict(src_dict)
        compliance_providers = cast(list[str], d.pop("compliance_providers"))

        description = d.pop("description")

        name = d.pop("name")

        required_leg_types = cast(list[str], d.pop("required_leg_types"))

        required_roles = cast(list[str], d.pop("required_roles"))

        single_chain = d.pop("single_chain")

        slug = d.pop("slug")

        states = []
        _states = d.pop("states")
        for states_item_data in _states:
            states_item = SettlementState(states_item_data)

            states.append(states_item)

        transitions = []
        _transitions = d.pop("transitions")
        for transitions_item_data in _transitions:
            transitions_item = []
            _transitions_item = transitions_item_data
            for transitions_item_item_data in _transitions_item:

                def _parse_transitions_item_item(
                    data: object,
                ) -> (
                    PaginatedTemplateItemsItemTransitionsItemItemType0
                    | PaginatedTemplateItemsItemTransitionsItemItemType1
                ):
                    try:
                        if not isinstance(data, str):
                            raise TypeError()
                        transitions_item_item_type_0 = (
                            PaginatedTemplateItemsItemTransitionsItemItemType0(data)
                        )

                        return transitions_item_item_type_0
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    if not isinstance(data, str):
                        raise TypeError()
                    transitions_item_item_type_1 = (
                        PaginatedTemplateItemsItemTransitionsItemItemType1(data)
                    )

                    return transitions_item_item_type_1

                transitions_item_item = _parse_transitions_item_item(
                    transitions_item_item_data
                )

                transitions_item.append(transitions_item_item)

            transitions.append(transitions_item)

        allow_same_platform = d.pop("allow_same_platform", UNSET)

        def _parse_repo(data: object) -> None | RepoSpec | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                repo_type_1 = RepoSpec.from_dict(data)

                return repo_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RepoSpec | Unset, data)

        repo = _parse_repo(d.pop("repo", UNSET))

        _role_legs = d.pop("role_legs", UNSET)
        role_legs: list[RoleLegs] | Unset = UNSET
        if _role_legs is not UNSET:
            role_legs = []
            for role_legs_item_data in _role_legs:
                role_legs_item = RoleLegs.from_dict(role_legs_item_data)

                role_legs.append(role_legs_item)

        paginated_template_items_item = cls(
            compliance_providers=compliance_providers,
            description=description,
            name=name,
            required_leg_types=required_leg_types,
            required_roles=required_roles,
            single_chain=single_chain,
            slug=slug,
            states=states,
            transitions=transitions,
            allow_same_platform=allow_same_platform,
            repo=repo,
            role_legs=role_legs,
        )

        return paginated_template_items_item
