from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.paginated_deposit_instruction import PaginatedDepositInstruction
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    sender: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["sender"] = sender

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/settlements/{id}/deposits".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | PaginatedDepositInstruction | None:
    if response.status_code == 200:
        response_200 = PaginatedDepositInstruction.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 408:
        response_408 = ErrorBody.from_dict(response.json())

        return response_408

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | PaginatedDepositInstruction]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    sender: str | Unset = UNSET,
) -> Response[ErrorBody | PaginatedDepositInstruction]:
    """The legs the calling platform must fund (only its own legs: another platform never sees
    them), with `approve` and `deposit` calldata, so a custody system can sign without
    knowing the escrow ABI. A `depositor` leg is deposited by its fixed `sender`; a
    `deposit_key` leg comes with the one-time key (`deposit_key_private_key`) and, with
    `?sender=0x...`, the key's signature and the calldata for that sender. Empty until
    `COMPLIANCE_CLEARED`; deposits succeed only once the chain side has registered the terms.

    Args:
        id (str):
        sender (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaginatedDepositInstruction]
    """

    kwargs = _get_kwargs(
        id=id,
        sender=sender,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    sender: str | Unset = UNSET,
) -> ErrorBody | PaginatedDepositInstruction | None:
    """The legs the calling platform must fund (only its own legs: another platform never sees
    them), with `approve` and `deposit` calldata, so a custody system can sign without
    knowing the escrow ABI. A `depositor` leg is deposited by its fixed `sender`; a
    `deposit_key` leg comes with the one-time key (`deposit_key_private_key`) and, with
    `?sender=0x...`, the key's signature and the calldata for that sender. Empty until
    `COMPLIANCE_CLEARED`; deposits succeed only once the chain side has registered the terms.

    Args:
        id (str):
        sender (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaginatedDepositInstruction
    """

    return sync_detailed(
        id=id,
        client=client,
        sender=sender,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    sender: str | Unset = UNSET,
) -> Response[ErrorBody | PaginatedDepositInstruction]:
    """The legs the calling platform must fund (only its own legs: another platform never sees
    them), with `approve` and `deposit` calldata, so a custody system can sign without
    knowing the escrow ABI. A `depositor` leg is deposited by its fixed `sender`; a
    `deposit_key` leg comes with the one-time key (`deposit_key_private_key`) and, with
    `?sender=0x...`, the key's signature and the calldata for that sender. Empty until
    `COMPLIANCE_CLEARED`; deposits succeed only once the chain side has registered the terms.

    Args:
        id (str):
        sender (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaginatedDepositInstruction]
    """

    kwargs = _get_kwargs(
        id=id,
        sender=sender,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    sender: str | Unset = UNSET,
) -> ErrorBody | PaginatedDepositInstruction | None:
    """The legs the calling platform must fund (only its own legs: another platform never sees
    them), with `approve` and `deposit` calldata, so a custody system can sign without
    knowing the escrow ABI. A `depositor` leg is deposited by its fixed `sender`; a
    `deposit_key` leg comes with the one-time key (`deposit_key_private_key`) and, with
    `?sender=0x...`, the key's signature and the calldata for that sender. Empty until
    `COMPLIANCE_CLEARED`; deposits succeed only once the chain side has registered the terms.

    Args:
        id (str):
        sender (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaginatedDepositInstruction
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            sender=sender,
        )
    ).parsed
