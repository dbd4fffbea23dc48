"""Verification of the Lockstep coordinator's webhooks (Standard Webhooks).

The coordinator signs every delivery with `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256>` headers (one `v1,` signature per live
secret while a rotated secret overlaps). This module checks them through the
maintained `standardwebhooks` package; it is hand-written, beside the generated
`lockstep_client` package, so regenerating the client never touches it.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["SIGNED_HEADERS", "WebhookVerificationError", "verify_webhook"]

SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
"""The headers a signature covers (with the body)."""


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes | str) -> dict[str, Any]:
    """Verify one webhook and return its parsed body.

    `secret` is the endpoint's `whsec_...` secret (shown once, on creation or rotation);
    `headers` the request's headers in any case (a `dict`, `http.client.HTTPMessage`,
    ...); `body` the raw request body, byte for byte. Checks a `v1` signature over
    `webhook-id.webhook-timestamp.body` and that the timestamp is within five minutes of
    now. Raises `WebhookVerificationError` for anything else, including malformed
    headers. Deduplicate by `webhook-id`: retries of a delivery carry the same id.
    """
    signed = {}
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in SIGNED_HEADERS:
        value = lowered.get(name)
        if value is None:
            raise WebhookVerificationError(f"missing header {name}")
        signed[name] = value
    try:
        message = Webhook(secret).verify(body, signed)
    except WebhookVerificationError:
        raise
    except (ValueError, binascii.Error) as err:  # malformed signature list, base64 or UTF-8
        raise WebhookVerificationError(f"malformed webhook: {err}") from err
    if not isinstance(message, dict):
        raise WebhookVerificationError("the webhook body is not a JSON object")
    return message
