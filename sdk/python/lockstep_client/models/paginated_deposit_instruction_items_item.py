from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.deposit_authorization import DepositAuthorization
from ..types import UNSET, Unset

T = TypeVar("T", bound="PaginatedDepositInstructionItemsItem")


@_attrs_define
class PaginatedDepositInstructionItemsItem:
    """One leg a platform must fund, with ready-to-sign calldata.

    Attributes:
        amount (str): Exact amount, base units.
        approve_calldata (str): `approve(escrow, amount)` calldata for `token`.
        authorization (DepositAuthorization): How a leg is authorised on chain (docs/onchain-terms.md, "Deposit
            authorisation").
        chain_id (int): EVM chain id to send both transactions on.
        escrow (str): The escrow (target of `deposit`, spender of `approve`).
        leg_index (int): Index of the leg in `terms.legs`.
        token (str): The ERC-20 (target of `approve`).
        deposit_calldata (None | str | Unset): `deposit(terms, legIndex, signature)` calldata for `escrow`, to send from
            `sender`
            (empty signature for depositor legs); null for a deposit-key leg without `sender`.
            Send with the LayerZero fee from the escrow's `quoteDeposit` as value on spoke
            chains.
        deposit_key (None | str | Unset): Deposit-key legs: the one-time key's address (`Leg.depositKey`); null
            otherwise.
        deposit_key_private_key (None | str | Unset): Deposit-key legs: the one-time key itself (0x-hex, 32 bytes), so
            the platform can
            sign `Deposit(settlementId, legIndex, sender)` for any custody address; keep it
            private. Null otherwise.
        sender (None | str | Unset): The address that must send `approve` and `deposit`: the fixed depositor, or for a
            deposit-key leg the `?sender=` of the request (null without it).
        signature (None | str | Unset): Deposit-key legs with a `sender`: the key's 65-byte `r ‖ s ‖ v` EIP-712
            signature
            for that sender (useless from any other sender). Null otherwise.
    """

    amount: str
    approve_calldata: str
    authorization: DepositAuthorization
    chain_id: int
    escrow: str
    leg_index: int
    token: str
    deposit_calldata: None | str | Unset = UNSET
    deposit_key: None | str | Unset = UNSET
    deposit_key_private_key: None | str | Unset = UNSET
    sender: None | str | Unset = UNSET
    signature: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        approve_calldata = self.approve_calldata

        authorization = self.authorization.value

        chain_id = self.chain_id

        escrow = self.escrow

        leg_index = self.leg_index

        token = self.token

        deposit_calldata: None | str | Unset
        if isinstance(self.deposit_calldata, Unset):
            deposit_calldata = UNSET
        else:
            deposit_calldata = self.deposit_calldata

        deposit_key: None | str | Unset
        if isinstance(self.deposit_key, Unset):
            deposit_key = UNSET
        else:
            deposit_key = self.deposit_key

        deposit_key_private_key: None | str | Unset
        if isinstance(self.deposit_key_private_key, Unset):
            deposit_key_private_key = UNSET
        else:
            deposit_key_private_key = self.deposit_key_private_key

        sender: None | str | Unset
        if isinstance(self.sender, Unset):
            sender = UNSET
        else:
            sender = self.sender

        signature: None | str | Unset
        if isinstance(self.signature, Unset):
            signature = UNSET
        else:
            signature = self.signature

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "approve_calldata": approve_calldata,
                "authorization": authorization,
                "chain_id": chain_id,
                "escrow": escrow,
                "leg_index": leg_index,
                "token": token,
            }
        )
        if deposit_calldata is not UNSET:
            field_dict["deposit_calldata"] = deposit_calldata
        if deposit_key is not UNSET:
            field_dict["deposit_key"] = deposit_key
        if deposit_key_private_key is not UNSET:
            field_dict["deposit_key_private_key"] = deposit_key_private_key
        if sender is not UNSET:
            field_dict["sender"] = sender
        if signature is not UNSET:
            field_dict["signature"] = signature

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        amount = d.pop("amount")

        approve_calldata = d.pop("approve_calldata")

        authorization = DepositAuthorization(d.pop("authorization"))

        chain_id = d.pop("chain_id")

        escrow = d.pop("escrow")

        leg_index = d.pop("leg_index")

        token = d.pop("token")

        def _parse_deposit_calldata(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deposit_calldata = _parse_deposit_calldata(d.pop("deposit_calldata", UNSET))

        def _parse_deposit_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deposit_key = _parse_deposit_key(d.pop("deposit_key", UNSET))

        def _parse_deposit_key_private_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deposit_key_private_key = _parse_deposit_key_private_key(
            d.pop("deposit_key_private_key", UNSET)
        )

        def _parse_sender(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sender = _parse_sender(d.pop("sender", UNSET))

        def _parse_signature(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        signature = _parse_signature(d.pop("signature", UNSET))

        paginated_deposit_instruction_items_item = cls(
            amount=amount,
            approve_calldata=approve_calldata,
            authorization=authorization,
            chain_id=chain_id,
            escrow=escrow,
            leg_index=leg_index,
            token=token,
            deposit_calldata=deposit_calldata,
            deposit_key=deposit_key,
            deposit_key_private_key=deposit_key_private_key,
            sender=sender,
            signature=signature,
        )

        paginated_deposit_instruction_items_item.additional_properties = d
        return paginated_deposit_instruction_items_item

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
