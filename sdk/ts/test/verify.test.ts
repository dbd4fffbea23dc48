/**
 * verifyWebhook against signatures computed here with node:crypto from the format the
 * coordinator documents (docs/coordinator.md, "Webhooks"): HMAC-SHA256 over
 * `id.timestamp.body` with the base64-decoded part of `whsec_...`, sent as `v1,<base64>`.
 * Run: node --import tsx --test test/*.test.ts
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import { verifyWebhook, WebhookVerificationError } from "../src/index.js";

const secret = `whsec_${randomBytes(32).toString("base64")}`;
const other = `whsec_${randomBytes(32).toString("base64")}`;
const body = JSON.stringify({
  id: "msg_01",
  event: "settlement.state.compliance_cleared",
  data: { settlement_id: "stl_01", state: "COMPLIANCE_CLEARED", previous_state: "COMPLIANCE_CHECKING" },
});

function sign(key: string, id: string, timestamp: number, payload: string): string {
  const raw = Buffer.from(key.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", raw).update(`${id}.${timestamp}.${payload}`).digest("base64")}`;
}

function headers(signature: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  return { "webhook-id": "msg_01", "webhook-timestamp": String(timestamp), "webhook-signature": signature };
}

const now = () => Math.floor(Date.now() / 1000);

test("a genuine webhook verifies and its body is returned", () => {
  const message = verifyWebhook(secret, headers(sign(secret, "msg_01", now(), body)), body);
  assert.equal(message.event, "settlement.state.compliance_cleared");
  assert.equal(message.data.state, "COMPLIANCE_CLEARED");
});

test("headers in any case and shape, and a byte body, are accepted", () => {
  const h = headers(sign(secret, "msg_01", now(), body));
  const mixed = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toUpperCase(), v]));
  assert.equal(verifyWebhook(secret, mixed, body).id, "msg_01");
  assert.equal(verifyWebhook(secret, new Headers(h), new TextEncoder().encode(body)).id, "msg_01");
});

test("during a rotation's overlap any one of the signatures verifies", () => {
  const t = now();
  const both = `${sign(other, "msg_01", t, body)} ${sign(secret, "msg_01", t, body)}`;
  assert.equal(verifyWebhook(secret, headers(both, t), body).id, "msg_01");
  assert.equal(verifyWebhook(other, headers(both, t), body).id, "msg_01");
});

test("a tampered body, another secret, another id are refused", () => {
  const h = headers(sign(secret, "msg_01", now(), body));
  assert.throws(() => verifyWebhook(secret, h, body.replace("COMPLIANCE_CLEARED", "FINALIZED")), WebhookVerificationError);
  assert.throws(() => verifyWebhook(other, h, body), WebhookVerificationError);
  assert.throws(() => verifyWebhook(secret, { ...h, "webhook-id": "msg_02" }, body), WebhookVerificationError);
});

test("a timestamp more than five minutes off is refused, even correctly signed", () => {
  for (const t of [now() - 600, now() + 600]) {
    assert.throws(() => verifyWebhook(secret, headers(sign(secret, "msg_01", t, body), t), body), WebhookVerificationError);
  }
});

test("a missing or malformed header or a body that is not UTF-8 is a WebhookVerificationError", () => {
  const { "webhook-signature": _, ...unsigned } = headers(sign(secret, "msg_01", now(), body));
  assert.throws(() => verifyWebhook(secret, unsigned, body), /missing header webhook-signature/);
  const h = headers(sign(secret, "msg_01", now(), body));
  for (const signature of ["v1", "v1,not base64!", "v1,a,b", ""]) {
    assert.throws(() => verifyWebhook(secret, { ...h, "webhook-signature": signature }, body), WebhookVerificationError);
  }
  assert.throws(() => verifyWebhook(secret, { ...h, "webhook-timestamp": "soon" }, body), WebhookVerificationError);
  assert.throws(() => verifyWebhook(secret, h, new Uint8Array([0xff, 0xfe])), WebhookVerificationError);
});
