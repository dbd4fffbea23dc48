"""verify_webhook against signatures computed here with hmac from the format the
coordinator documents (docs/coordinator.md, "Webhooks"): HMAC-SHA256 over
`id.timestamp.body` with the base64-decoded part of `whsec_...`, sent as `v1,<base64>`.

Run: sdk/python/.venv/bin/python -m unittest discover -s sdk/python/tests
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import unittest
from email.message import Message

from lockstep_webhooks import WebhookVerificationError, verify_webhook

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
OTHER = "whsec_" + base64.b64encode(os.urandom(32)).decode()
BODY = json.dumps(
    {
        "id": "msg_01",
        "event": "settlement.state.compliance_cleared",
        "data": {"settlement_id": "stl_01", "state": "COMPLIANCE_CLEARED", "previous_state": "COMPLIANCE_CHECKING"},
    }
).encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(signature: str, timestamp: int | None = None) -> dict[str, str]:
    t = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": "msg_01", "webhook-timestamp": str(t), "webhook-signature": signature}


def now() -> int:
    return int(time.time())


class VerifyWebhook(unittest.TestCase):
    def test_genuine_webhook_verifies_and_returns_its_body(self) -> None:
        message = verify_webhook(SECRET, headers(sign(SECRET, "msg_01", now(), BODY)), BODY)
        self.assertEqual(message["event"], "settlement.state.compliance_cleared")
        self.assertEqual(message["data"]["state"], "COMPLIANCE_CLEARED")

    def test_headers_in_any_case_and_shape_and_a_text_body(self) -> None:
        h = headers(sign(SECRET, "msg_01", now(), BODY))
        self.assertEqual(verify_webhook(SECRET, {k.upper(): v for k, v in h.items()}, BODY.decode())["id"], "msg_01")
        http_message = Message()
        for k, v in h.items():
            http_message[k.title()] = v
        self.assertEqual(verify_webhook(SECRET, http_message, BODY)["id"], "msg_01")

    def test_any_one_signature_verifies_during_a_rotation(self) -> None:
        t = now()
        both = f"{sign(OTHER, 'msg_01', t, BODY)} {sign(SECRET, 'msg_01', t, BODY)}"
        self.assertEqual(verify_webhook(SECRET, headers(both, t), BODY)["id"], "msg_01")
        self.assertEqual(verify_webhook(OTHER, headers(both, t), BODY)["id"], "msg_01")

    def test_tampered_body_other_secret_other_id_are_refused(self) -> None:
        h = headers(sign(SECRET, "msg_01", now(), BODY))
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, h, BODY.replace(b"COMPLIANCE_CLEARED", b"FINALIZED"))
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(OTHER, h, BODY)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, {**h, "webhook-id": "msg_02"}, BODY)

    def test_timestamp_more_than_five_minutes_off_is_refused(self) -> None:
        for t in (now() - 600, now() + 600):
            with self.assertRaises(WebhookVerificationError):
                verify_webhook(SECRET, headers(sign(SECRET, "msg_01", t, BODY), t), BODY)

    def test_missing_or_malformed_headers_and_bad_utf8_are_verification_errors(self) -> None:
        h = headers(sign(SECRET, "msg_01", now(), BODY))
        with self.assertRaisesRegex(WebhookVerificationError, "missing header webhook-signature"):
            verify_webhook(SECRET, {k: v for k, v in h.items() if k != "webhook-signature"}, BODY)
        for signature in ("v1", "v1,not base64!", "v1,a,b", ""):
            with self.assertRaises(WebhookVerificationError):
                verify_webhook(SECRET, {**h, "webhook-signature": signature}, BODY)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, {**h, "webhook-timestamp": "soon"}, BODY)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, h, b"\xff\xfe")


if __name__ == "__main__":
    unittest.main()
