/**
 * Lockstep coordinator SDK for TypeScript.
 *
 * Everything about the API is generated: `schema.d.ts` comes from the server's OpenAPI
 * document (`sdk/openapi.json`) through openapi-typescript, and `openapi-fetch` turns it
 * into a client whose paths, parameters, bodies and answers are all typed. This file
 * adds only a client factory (base URL + bearer token) and webhook verification through
 * the Standard Webhooks reference library (`standardwebhooks`).
 */
import createFetchClient, { type Client } from "openapi-fetch";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { components, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";
export { WebhookVerificationError };

/** The API's named schemas, e.g. `Schemas["SettlementView"]`. */
export type Schemas = components["schemas"];

/** A typed client of the coordinator API (`client.GET("/v1/settlements/{id}", ...)`). */
export type LockstepClient = Client<paths>;

/** Where the coordinator is and which bearer token (`lst_...`) to send. */
export interface ClientConfig {
  /** The server's base URL, e.g. `http://127.0.0.1:8080` (a trailing `/` is ignored). */
  baseUrl: string;
  /** A platform or operator token as printed by `lockstep platform create` / `token issue`. */
  token: string;
  /** A `fetch` to use instead of the global one (tests, proxies). */
  fetch?: (input: Request) => Promise<Response>;
}

/**
 * A client that sends `Authorization: Bearer <token>` on every request. Each call
 * answers `{ data, error, response }`: `data` for a documented success, `error` (an
 * `ErrorBody`: `detail` and, for 422, `errors[]`) otherwise.
 */
export function createClient(config: ClientConfig): LockstepClient {
  return createFetchClient<paths>({
    baseUrl: config.baseUrl.replace(/\/+$/, ""),
    headers: { Authorization: `Bearer ${config.token}` },
    ...(config.fetch ? { fetch: config.fetch } : {}),
  });
}

/**
 * A webhook as the coordinator posts it (coordinator.md, "Webhooks"): `event` is e.g.
 * `settlement.state.compliance_cleared`, `settlement.compliance.cleared`, `test.ping` or
 * `instruction.closed`. The OpenAPI document does not describe webhook bodies, so `data`
 * stays open; settlement events carry `settlement_id`, `state`, `previous_state`,
 * `settlement_type` and `timestamp`.
 */
export interface WebhookMessage {
  /** The event id, equal to the `webhook-id` header. */
  id: string;
  /** The event type. */
  event: string;
  /** The event's data. */
  data: WebhookData;
}

/** The `data` of a webhook; the settlement fields are present on settlement events. */
export interface WebhookData {
  settlement_id?: string;
  state?: Schemas["SettlementState"];
  previous_state?: Schemas["SettlementState"] | null;
  settlement_type?: string;
  timestamp?: string;
  [key: string]: unknown;
}

/** Request headers in any of the usual shapes: a fetch `Headers`, Node's `IncomingHttpHeaders`, a plain record. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

const SIGNED_HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature"] as const;

/**
 * Verifies a webhook the coordinator posted and returns its parsed body.
 *
 * `secret` is the endpoint's `whsec_...` secret (shown once, when the endpoint is
 * created or its secret rotated); `body` must be the raw request body, byte for byte.
 * Checks the `webhook-signature` (any of its space-separated `v1,` signatures, so a
 * rotated secret's overlap works) over `webhook-id.webhook-timestamp.body` and that the
 * timestamp is within five minutes of now. Throws `WebhookVerificationError` otherwise
 * (also for a missing header or a body that is not UTF-8).
 * Deduplicate by `webhook-id`: retries carry the same id.
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
): WebhookMessage {
  const signed: Record<string, string> = {};
  for (const name of SIGNED_HEADERS) {
    const value = headers instanceof Headers ? headers.get(name) : pick(headers, name);
    if (value === undefined || value === null) {
      throw new WebhookVerificationError(`missing header ${name}`);
    }
    signed[name] = value;
  }
  return new Webhook(secret).verify(utf8(body), signed) as WebhookMessage;
}

function utf8(body: string | Uint8Array): string {
  if (typeof body === "string") return body;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new WebhookVerificationError("the body is not UTF-8");
  }
}

function pick(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) {
      return Array.isArray(value) ? value.join(" ") : value;
    }
  }
  return undefined;
}
