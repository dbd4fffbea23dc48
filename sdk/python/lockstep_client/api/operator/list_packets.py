from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.packet_status import PacketStatus
from ...models.paginated_packet_view import PaginatedPacketView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: PacketStatus | Unset = UNSET,
    open_only: bool | Unset = UNSET,
    blocked: bool | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["open_only"] = open_only

    params["blocked"] = blocked

    params["limit"] = limit

    params["offset"] = offset

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/operator/packets",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | PaginatedPacketView | None:
    if response.status_code == 200:
        response_200 = PaginatedPacketView.from_dict(response.json())

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
) -> Response[ErrorBody | PaginatedPacketView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    status: PacketStatus | Unset = UNSET,
    open_only: bool | Unset = UNSET,
    blocked: bool | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
) -> Response[ErrorBody | PaginatedPacketView]:
    """The relayer's packets, open ones first (oldest first), then the newest closed ones
    (operator).

    Args:
        status (PacketStatus | Unset): Where a packet stands; stored in `lz_packets.state` by the
            names of [`PacketStatus::as_str`]
            (`pending -> verified -> committed -> delivered`). A readable packet is never abandoned:
            it stays in its open status, retried with capped backoff, until the destination shows it
            delivered. Only a `PacketSent` that cannot be parsed is `unreadable`.
        open_only (bool | Unset):
        blocked (bool | Unset):
        limit (int | Unset):
        offset (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaginatedPacketView]
    """

    kwargs = _get_kwargs(
        status=status,
        open_only=open_only,
        blocked=blocked,
        limit=limit,
        offset=offset,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    status: PacketStatus | Unset = UNSET,
    open_only: bool | Unset = UNSET,
    blocked: bool | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
) -> ErrorBody | PaginatedPacketView | None:
    """The relayer's packets, open ones first (oldest first), then the newest closed ones
    (operator).

    Args:
        status (PacketStatus | Unset): Where a packet stands; stored in `lz_packets.state` by the
            names of [`PacketStatus::as_str`]
            (`pending -> verified -> committed -> delivered`). A readable packet is never abandoned:
            it stays in its open status, retried with capped backoff, until the destination shows it
            delivered. Only a `PacketSent` that cannot be parsed is `unreadable`.
        open_only (bool | Unset):
        blocked (bool | Unset):
        limit (int | Unset):
        offset (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaginatedPacketView
    """

    return sync_detailed(
        client=client,
        status=status,
        open_only=open_only,
        blocked=blocked,
        limit=limit,
        offset=offset,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    status: PacketStatus | Unset = UNSET,
    open_only: bool | Unset = UNSET,
    blocked: bool | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
) -> Response[ErrorBody | PaginatedPacketView]:
    """The relayer's packets, open ones first (oldest first), then the newest closed ones
    (operator).

    Args:
        status (PacketStatus | Unset): Where a packet stands; stored in `lz_packets.state` by the
            names of [`PacketStatus::as_str`]
            (`pending -> verified -> committed -> delivered`). A readable packet is never abandoned:
            it stays in its open status, retried with capped backoff, until the destination shows it
            delivered. Only a `PacketSent` that cannot be parsed is `unreadable`.
        open_only (bool | Unset):
        blocked (bool | Unset):
        limit (int | Unset):
        offset (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaginatedPacketView]
    """

    kwargs = _get_kwargs(
        status=status,
        open_only=open_only,
        blocked=blocked,
        limit=limit,
        offset=offset,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    status: PacketStatus | Unset = UNSET,
    open_only: bool | Unset = UNSET,
    blocked: bool | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
) -> ErrorBody | PaginatedPacketView | None:
    """The relayer's packets, open ones first (oldest first), then the newest closed ones
    (operator).

    Args:
        status (PacketStatus | Unset): Where a packet stands; stored in `lz_packets.state` by the
            names of [`PacketStatus::as_str`]
            (`pending -> verified -> committed -> delivered`). A readable packet is never abandoned:
            it stays in its open status, retried with capped backoff, until the destination shows it
            delivered. Only a `PacketSent` that cannot be parsed is `unreadable`.
        open_only (bool | Unset):
        blocked (bool | Unset):
        limit (int | Unset):
        offset (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaginatedPacketView
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            open_only=open_only,
            blocked=blocked,
            limit=limit,
            offset=offset,
        )
    ).parsed
