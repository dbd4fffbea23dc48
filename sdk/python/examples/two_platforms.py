"""Two platforms settle one trade through the Lockstep coordinator with the Python SDK.

Each platform starts a webhook receiver on loopback, registers it, and submits its side of
one `dvp-standard` trade: platform A the seller (first side, which is issued the trade
reference), platform B the buyer (second side, with that reference). Both then read the
settlement that formed, wait for its webhooks and verify every one with
`lockstep_webhooks.verify_webhook`; the first genuine delivery is posted back to each
receiver with its body tampered (must be refused) and as it was (must be accepted). Last,
each platform rotates its endpoint's secret and checks that the server's test ping verifies
with both the new and the replaced secret.

Exits 0 only when the settlement formed and reached COMPLIANCE_CLEARED, each platform
received and verified every webhook up to it (settlement.state.instructed,
.compliance_checking, .compliance_cleared and settlement.compliance.cleared), the server
records each of them as delivered, every tampered copy was refused, and the ping after the
rotation verified with both secrets. Without a chain side (`[[chains]]` without `rpc_url`)
COMPLIANCE_CLEARED is where a settlement waits; with one it moves on, and later webhooks
are verified too.

Env: LOCKSTEP_URL (e.g. http://127.0.0.1:8080), LOCKSTEP_TOKEN_A, LOCKSTEP_TOKEN_B (two
platforms' tokens). The server must allow loopback webhook targets
(`[webhooks] allow_private_targets = ["127.0.0.1/32"]`).

Run: sdk/python/.venv/bin/python sdk/python/examples/two_platforms.py
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx

from lockstep_client import AuthenticatedClient
from lockstep_client.api.instructions import get_instruction, submit_instruction
from lockstep_client.api.settlements import get_settlement
from lockstep_client.api.webhooks import (
    create_endpoint,
    delete_endpoint,
    endpoint_deliveries,
    ping_endpoint,
    rotate_endpoint_secret,
)
from lockstep_client.models import (
    Direction,
    EndpointRequest,
    EndpointWithSecret,
    InstructionRequest,
    InstructionView,
    LegInput,
    LegType,
    PaginatedDelivery,
    Party,
    Role,
    SettlementState,
    SettlementView,
)
from lockstep_webhooks import SIGNED_HEADERS, WebhookVerificationError, verify_webhook

EXPECTED_EVENTS = {
    "settlement.state.instructed",
    "settlement.state.compliance_checking",
    "settlement.state.compliance_cleared",
    "settlement.compliance.cleared",
}
FORMED = {
    SettlementState.COMPLIANCE_CLEARED,
    SettlementState.AWAITING_DEPOSITS,
    SettlementState.EXECUTING_SWAP,
    SettlementState.FINALIZED,
}
CHAIN_ID = 31337
ASSET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
USDC = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
TIMEOUT_S = 30.0
T = TypeVar("T")


class ExampleError(Exception):
    """The example did not see what it expects."""


def expect(value: T | Any, kind: type[T], what: str) -> T:
    """`value` if it is a `kind` (a documented success), else fail naming the answer."""
    if not isinstance(value, kind):
        raise ExampleError(f"{what}: {value!r}")
    return value


class Platform:
    """One platform: its API client and its webhook receiver."""

    def __init__(self, name: str, base_url: str, token: str) -> None:
        self.name = name
        self.client = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)
        self.received: dict[str, dict[str, Any]] = {}
        self.failures: list[str] = []
        self.raw: dict[str, tuple[dict[str, str], bytes]] = {}  # genuine deliveries as they arrived, by id
        self.secret = ""
        self.endpoint_id = ""
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        platform = self

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = platform.receive({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Receiver

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        """Verifies one webhook (`headers` with lower-case names): 204 when genuine, 400 when not."""
        try:
            message = verify_webhook(self.secret, headers, body)
        except WebhookVerificationError as err:
            if headers.get("x-example-tampered") != "1":
                with self.lock:
                    self.failures.append(f"{headers.get('webhook-id')}: {err}")
            return 400
        with self.lock:
            self.received[message["id"]] = message
            self.raw.setdefault(message["id"], ({k: v for k, v in headers.items() if k in SIGNED_HEADERS}, body))
        return 204

    def listen(self) -> None:
        """Serves the receiver in a thread and registers it as a webhook endpoint."""
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        endpoint = expect(
            create_endpoint.sync(
                client=self.client,
                body=EndpointRequest(url=self.url, description=f"{self.name} (two-platforms example)"),
            ),
            EndpointWithSecret,
            f"{self.name}: registering {self.url}",
        )
        self.secret, self.endpoint_id = endpoint.secret, endpoint.id
        print(f"{self.name}: receiving webhooks at {self.url} (endpoint {endpoint.id})")

    def tampered_copy_is_rejected(self) -> bool:
        """Posts the first genuine delivery back tampered (must get 400) and intact (204)."""
        with self.lock:
            first = next(iter(self.raw.values()), None)
        if first is None:
            return False
        headers, body = first
        text = body.decode()
        tampered = text.replace('"data":{', '"data":{"tampered":true,', 1) if '"data":{' in text else text + " "
        return self._post(headers, tampered.encode(), "1") == 400 and self._post(headers, body, "0") == 204

    def _post(self, headers: dict[str, str], body: bytes, mark: str) -> int:
        extra = {"content-type": "application/json", "x-example-tampered": mark}
        return httpx.post(self.url, content=body, headers={**headers, **extra}, timeout=5).status_code

    def rotation_verifies_with_both_secrets(self) -> None:
        """Rotates the secret and has the server send a `test.ping`: during the overlap it
        carries one `v1,` signature per live secret, so both secrets must verify it."""
        replaced = self.secret
        rotated = expect(
            rotate_endpoint_secret.sync(self.endpoint_id, client=self.client),
            EndpointWithSecret,
            f"{self.name}: rotate-secret",
        )
        self.secret = rotated.secret
        ping = ping_endpoint.sync_detailed(self.endpoint_id, client=self.client)
        if ping.status_code != HTTPStatus.ACCEPTED:
            raise ExampleError(f"{self.name}: test ping answered {ping.status_code}")

        def probe() -> str | None:
            with self.lock:
                return next((i for i, m in self.received.items() if m["event"] == "test.ping"), None)

        headers, body = self.raw[until(f"{self.name}'s test.ping", probe)]
        verify_webhook(replaced, headers, body)
        verify_webhook(self.secret, headers, body)
        if len(headers["webhook-signature"].split(" ")) != 2:
            raise ExampleError(f"{self.name}: expected two signatures: {headers['webhook-signature']}")
        print(f"{self.name}: after rotating the secret, the test.ping verifies with the new and the replaced one")

    def close(self) -> None:
        if self.endpoint_id:
            delete_endpoint.sync_detailed(self.endpoint_id, client=self.client)
        self.server.shutdown()
        self.server.server_close()


def instruction(run: str, seller: bool, trade_reference: str | None) -> InstructionRequest:
    """One side of the trade: A sells 1000 units of ASSET for 250 USDC, B buys them."""
    give, take = (Direction.DELIVER, Direction.RECEIVE) if seller else (Direction.RECEIVE, Direction.DELIVER)
    name, wallet = (
        ("Alpha Securities AG", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb")
        if seller
        else ("Beta Capital LLC", "0x52908400098527886E0F7030069857D2E4169EE7")
    )
    return InstructionRequest(
        idempotency_key=f"{'sell' if seller else 'buy'}-{run}",
        template_slug="dvp-standard",
        role=Role.SELLER if seller else Role.BUYER,
        party=Party(external_reference=f"{name[0]}-{run}", name=name, wallet_address=wallet, chain_id=CHAIN_ID),
        legs=[
            LegInput(
                leg_type=LegType.ASSET_DELIVERY, instrument_id=ASSET, quantity="1000", direction=give, chain_id=CHAIN_ID
            ),
            LegInput(
                leg_type=LegType.PAYMENT, instrument_id=USDC, quantity="250000000", direction=take, chain_id=CHAIN_ID
            ),
        ],
        timeout_at=(datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds"),
        trade_reference=trade_reference,
    )


def submit_trade(a: Platform, b: Platform) -> tuple[str, str]:
    """A submits the seller's side (first side), B the buyer's with A's trade reference."""
    run = uuid.uuid4().hex
    first = expect(
        submit_instruction.sync(client=a.client, body=instruction(run, True, None)),
        InstructionView,
        "A: submit",
    )
    print(f"A: seller side {first.id} is {first.status.value}, trade reference {first.trade_reference}")
    second = expect(
        submit_instruction.sync(client=b.client, body=instruction(run, False, first.trade_reference)),
        InstructionView,
        "B: submit",
    )
    print(f"B: buyer side {second.id} is {second.status.value}, settlement {second.settlement_id}")
    if second.status.value != "matched" or not isinstance(second.settlement_id, str):
        raise ExampleError(f"B: not matched: {second.match}")
    return first.id, second.settlement_id


def until(what: str, probe: Callable[[], T | None]) -> T:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise ExampleError(f"timed out waiting for {what}")
        time.sleep(0.1)


def see_settlement_form(p: Platform, settlement_id: str) -> SettlementView:
    """The platform reads the settlement until it has formed (COMPLIANCE_CLEARED or later)."""

    def probe() -> SettlementView | None:
        view = expect(get_settlement.sync(settlement_id, client=p.client), SettlementView, f"{p.name}: GET settlement")
        return view if view.state in FORMED else None

    view = until(f"{p.name} to see {settlement_id} formed", probe)
    if not isinstance(view.terms_hash, str) or not view.attestations:
        raise ExampleError(f"{p.name}: settlement {settlement_id} has no terms or attestations")
    print(f"{p.name}: settlement {settlement_id} is {view.state.value}, terms {view.terms_hash}")
    return view


def check_webhooks(p: Platform, settlement_id: str) -> None:
    """Waits until every expected webhook arrived, verified, and the server says delivered."""

    def mine() -> list[dict[str, Any]]:
        with p.lock:
            return [m for m in p.received.values() if m["data"].get("settlement_id") == settlement_id]

    def probe() -> bool | None:
        if p.failures:
            raise ExampleError(f"{p.name}: genuine webhooks failed: {'; '.join(p.failures)}")
        if not EXPECTED_EVENTS <= {m["event"] for m in mine()}:
            return None
        log = expect(
            endpoint_deliveries.sync(p.endpoint_id, client=p.client, limit=500),
            PaginatedDelivery,
            f"{p.name}: deliveries",
        )
        delivered = {d.event_id for d in log.items if d.status.value == "delivered"}
        return True if all(m["id"] in delivered for m in mine()) else None

    until(f"{p.name}'s webhooks for {settlement_id}", probe)
    lines = sorted(f"{m['event']} {m['data'].get('previous_state') or '-'}->{m['data']['state']}" for m in mine())
    print(f"{p.name}: verified {len(lines)} webhooks for {settlement_id}:\n  " + "\n  ".join(lines))


def run(base_url: str, token_a: str, token_b: str) -> None:
    a, b = Platform("A", base_url, token_a), Platform("B", base_url, token_b)
    try:
        a.listen()
        b.listen()
        seller_instruction, settlement_id = submit_trade(a, b)
        own = expect(get_instruction.sync(seller_instruction, client=a.client), InstructionView, "A: own instruction")
        if own.settlement_id != settlement_id:
            raise ExampleError(f"A: its instruction names {own.settlement_id}")
        for p in (a, b):
            see_settlement_form(p, settlement_id)
            check_webhooks(p, settlement_id)
            if not p.tampered_copy_is_rejected():
                raise ExampleError(f"{p.name}: a tampered webhook was accepted")
            if p.failures:
                raise ExampleError(f"{p.name}: genuine webhooks failed: {'; '.join(p.failures)}")
            print(f"{p.name}: tampered copy rejected")
            p.rotation_verifies_with_both_secrets()
        print("ok: settlement formed, every webhook verified, tampered copies rejected, rotation verified")
    finally:
        a.close()
        b.close()


def main() -> int:
    base_url = os.environ.get("LOCKSTEP_URL", "http://127.0.0.1:8080")
    token_a, token_b = os.environ.get("LOCKSTEP_TOKEN_A"), os.environ.get("LOCKSTEP_TOKEN_B")
    if not token_a or not token_b:
        print("set LOCKSTEP_TOKEN_A and LOCKSTEP_TOKEN_B (two platforms' tokens)", file=sys.stderr)
        return 2
    try:
        run(base_url, token_a, token_b)
    except (ExampleError, WebhookVerificationError) as err:
        print(f"two_platforms example failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
