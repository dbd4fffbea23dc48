/**
 * Two platforms settle one trade through the Lockstep coordinator with the TypeScript SDK.
 *
 * Each platform starts a webhook receiver on loopback, registers it, and submits its side
 * of one `dvp-standard` trade: platform A the seller (first side, which is issued the trade
 * reference), platform B the buyer (second side, with that reference). Both then read the
 * settlement that formed, wait for its webhooks and verify every one with `verifyWebhook`;
 * a copy with a tampered body is posted to each receiver and must be rejected. Last,
 * each platform rotates its endpoint's secret and checks that the server's test ping
 * verifies with both the new and the replaced secret.
 *
 * Exits 0 only when the settlement formed and reached COMPLIANCE_CLEARED, each platform
 * received and verified every webhook up to it (settlement.state.instructed,
 * .compliance_checking, .compliance_cleared and settlement.compliance.cleared), the
 * server recorded each of those deliveries as delivered, every tampered copy was
 * rejected, and the ping after the rotation verified with both secrets. Without a chain
 * side (`[[chains]]` without `rpc_url`) COMPLIANCE_CLEARED is where a settlement waits;
 * with one it moves on, and later webhooks are verified too.
 *
 * Env: LOCKSTEP_URL (e.g. http://127.0.0.1:8080), LOCKSTEP_TOKEN_A, LOCKSTEP_TOKEN_B (two
 * platforms' tokens). The server must allow loopback webhook targets
 * (`[webhooks] allow_private_targets = ["127.0.0.1/32"]`).
 *
 * Run: npx tsx examples/two-platforms.ts
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createClient,
  type LockstepClient,
  type Schemas,
  verifyWebhook,
  type WebhookMessage,
} from "../src/index.js";

const EXPECTED_EVENTS = [
  "settlement.state.instructed",
  "settlement.state.compliance_checking",
  "settlement.state.compliance_cleared",
  "settlement.compliance.cleared",
];
const FORMED: Schemas["SettlementState"][] = [
  "COMPLIANCE_CLEARED",
  "AWAITING_DEPOSITS",
  "EXECUTING_SWAP",
  "FINALIZED",
];
const CHAIN_ID = 31337;
const ASSET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const USDC = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
const TIMEOUT_MS = 30_000;

/** A delivery as it arrived: the signed headers and the raw body. */
interface Raw {
  headers: Record<string, string>;
  body: Buffer;
}

/** One platform: its API client and its webhook receiver. */
class Platform {
  readonly client: LockstepClient;
  readonly received = new Map<string, WebhookMessage>();
  rejected = 0;
  /** Every genuine delivery as it arrived (signed headers and raw body), by webhook id. */
  readonly raw = new Map<string, Raw>();
  /** Genuine webhooks that failed verification (must stay empty). */
  readonly failures: string[] = [];
  secret = "";
  endpointId = "";
  private server: Server | undefined;
  private url = "";

  constructor(
    readonly name: string,
    baseUrl: string,
    token: string,
  ) {
    this.client = createClient({ baseUrl, token });
  }

  /** Starts the receiver on a free loopback port and registers it as a webhook endpoint. */
  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      readBody(req).then((body) => {
        try {
          const message = verifyWebhook(this.secret, req.headers, body);
          this.received.set(message.id, message);
          if (!this.raw.has(message.id)) this.raw.set(message.id, { headers: signedHeaders(req), body });
          res.writeHead(204).end();
        } catch (err) {
          this.rejected += 1;
          if (req.headers["x-example-tampered"] !== "1") {
            this.failures.push(`${req.headers["webhook-id"]}: ${String(err)}`);
          }
          res.writeHead(400).end();
        }
      }, () => res.writeHead(400).end());
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/webhooks`;
    const { data, error } = await this.client.POST("/v1/webhook-endpoints", {
      body: { url: this.url, description: `${this.name} (two-platforms example)` },
    });
    if (!data) throw new Error(`${this.name}: registering ${this.url} failed: ${JSON.stringify(error)}`);
    this.secret = data.secret;
    this.endpointId = data.id;
    console.log(`${this.name}: receiving webhooks at ${this.url} (endpoint ${data.id})`);
  }

  /**
   * Posts the first genuine delivery back to the receiver twice: once with one character
   * of its body changed (must be refused: 400) and once as it was (must be accepted: 204,
   * so the refusal is the tampering's doing). True when both hold.
   */
  async tamperedCopyIsRejected(): Promise<boolean> {
    const [first] = this.raw.values();
    if (!first) return false;
    const { headers, body } = first;
    const text = body.toString("utf8");
    const tampered = text.includes('"data":{') ? text.replace('"data":{', '"data":{"tampered":true,') : `${text} `;
    const post = (payload: string, mark: string) =>
      fetch(this.url, { method: "POST", headers: { ...headers, "content-type": "application/json", "x-example-tampered": mark }, body: payload });
    const refused = (await post(tampered, "1")).status === 400;
    const accepted = (await post(text, "0")).status === 204;
    return refused && accepted;
  }

  /**
   * Rotates the endpoint's secret and has the server send a `test.ping`: during the
   * overlap it carries one `v1,` signature per live secret, so it must verify with the
   * new secret and with the replaced one.
   */
  async rotationVerifiesWithBothSecrets(): Promise<void> {
    const path = { path: { id: this.endpointId } };
    const replaced = this.secret;
    const rotated = await this.client.POST("/v1/webhook-endpoints/{id}/rotate-secret", { params: path });
    if (!rotated.data) throw new Error(`${this.name}: rotate-secret failed: ${JSON.stringify(rotated.error)}`);
    this.secret = rotated.data.secret;
    const ping = await this.client.POST("/v1/webhook-endpoints/{id}/test", { params: path });
    if (ping.response.status !== 202) throw new Error(`${this.name}: test ping answered ${ping.response.status}`);
    const id = await until(`${this.name}'s test.ping`, async () =>
      [...this.received.values()].find((m) => m.event === "test.ping")?.id,
    );
    const raw = this.raw.get(id);
    if (!raw) throw new Error(`${this.name}: no raw copy of ${id}`);
    const signatures = raw.headers["webhook-signature"]?.split(" ") ?? [];
    verifyWebhook(replaced, raw.headers, raw.body);
    verifyWebhook(this.secret, raw.headers, raw.body);
    if (signatures.length !== 2) throw new Error(`${this.name}: expected two signatures, got ${signatures.length}`);
    console.log(`${this.name}: after rotating the secret, the test.ping verifies with the new and the replaced one`);
  }

  async close(): Promise<void> {
    if (this.endpointId) {
      await this.client.DELETE("/v1/webhook-endpoints/{id}", { params: { path: { id: this.endpointId } } });
    }
    // Stop listening and drop every connection, including keep-alive ones a client still holds.
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
    await closed;
  }
}

function signedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    const value = req.headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function party(name: string, reference: string, wallet: string): Schemas["Party"] {
  return { external_reference: reference, name, wallet_address: wallet, chain_id: CHAIN_ID };
}

function legs(seller: boolean): Schemas["LegInput"][] {
  return [
    { leg_type: "asset_delivery", instrument_id: ASSET, quantity: "1000", direction: seller ? "deliver" : "receive", chain_id: CHAIN_ID },
    { leg_type: "payment", instrument_id: USDC, quantity: "250000000", direction: seller ? "receive" : "deliver", chain_id: CHAIN_ID },
  ];
}

/** A submits the seller's side (first side), B the buyer's with A's trade reference. */
async function submitTrade(a: Platform, b: Platform): Promise<{ sellerInstruction: string; settlementId: string }> {
  const run = randomUUID();
  const timeout_at = new Date(Date.now() + 2 * 3600_000).toISOString();
  const first = await a.client.POST("/v1/instructions", {
    body: {
      idempotency_key: `sell-${run}`, template_slug: "dvp-standard", role: "seller", trade_reference: null,
      party: party("Alpha Securities AG", `A-${run}`, "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"),
      legs: legs(true), timeout_at,
    },
  });
  if (!first.data) throw new Error(`A: submit failed: ${JSON.stringify(first.error)}`);
  console.log(`A: seller side ${first.data.id} is ${first.data.status}, trade reference ${first.data.trade_reference}`);
  const second = await b.client.POST("/v1/instructions", {
    body: {
      idempotency_key: `buy-${run}`, template_slug: "dvp-standard", role: "buyer",
      trade_reference: first.data.trade_reference,
      party: party("Beta Capital LLC", `B-${run}`, "0x52908400098527886E0F7030069857D2E4169EE7"),
      legs: legs(false), timeout_at,
    },
  });
  if (!second.data) throw new Error(`B: submit failed: ${JSON.stringify(second.error)}`);
  const { status, settlement_id, match } = second.data;
  console.log(`B: buyer side ${second.data.id} is ${status}, settlement ${settlement_id}`);
  if (status !== "matched" || !settlement_id) throw new Error(`B: not matched: ${JSON.stringify(match)}`);
  return { sellerInstruction: first.data.id, settlementId: settlement_id };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The platform reads the settlement until it has formed (COMPLIANCE_CLEARED or later). */
async function seeSettlementForm(p: Platform, id: string): Promise<Schemas["SettlementView"]> {
  const view = await until(`${p.name} to see ${id} formed`, async () => {
    const { data, error } = await p.client.GET("/v1/settlements/{id}", { params: { path: { id } } });
    if (!data) throw new Error(`${p.name}: GET settlement failed: ${JSON.stringify(error)}`);
    return FORMED.includes(data.state) ? data : undefined;
  });
  if (view.state === "ROLLED_BACK" || !view.terms_hash || view.attestations.length === 0) {
    throw new Error(`${p.name}: settlement ${id} did not clear: ${JSON.stringify(view)}`);
  }
  console.log(`${p.name}: settlement ${id} is ${view.state}, terms ${view.terms_hash}`);
  return view;
}

/**
 * Waits until the platform has received and verified every expected webhook of the
 * settlement and the server records each webhook it received as delivered.
 */
async function checkWebhooks(p: Platform, settlementId: string): Promise<void> {
  const mine = () => [...p.received.values()].filter((m) => m.data.settlement_id === settlementId);
  await until(`${p.name}'s webhooks for ${settlementId}`, async () => {
    if (p.failures.length > 0) throw new Error(`${p.name}: genuine webhooks failed: ${p.failures.join("; ")}`);
    if (!EXPECTED_EVENTS.every((e) => mine().some((m) => m.event === e))) return undefined;
    const { data, error } = await p.client.GET("/v1/webhook-endpoints/{id}/deliveries", {
      params: { path: { id: p.endpointId }, query: { limit: 500 } },
    });
    if (!data) throw new Error(`${p.name}: deliveries failed: ${JSON.stringify(error)}`);
    const delivered = new Set(data.items.filter((d) => d.status === "delivered").map((d) => d.event_id));
    return mine().every((m) => delivered.has(m.id)) ? true : undefined;
  });
  const path = mine().map((m) => `${m.event} ${m.data.previous_state ?? "-"}->${m.data.state}`);
  console.log(`${p.name}: verified ${path.length} webhooks for ${settlementId}:\n  ${path.sort().join("\n  ")}`);
}

async function main(): Promise<void> {
  const baseUrl = process.env.LOCKSTEP_URL ?? "http://127.0.0.1:8080";
  const [tokenA, tokenB] = [process.env.LOCKSTEP_TOKEN_A, process.env.LOCKSTEP_TOKEN_B];
  if (!tokenA || !tokenB) throw new Error("set LOCKSTEP_TOKEN_A and LOCKSTEP_TOKEN_B (two platforms' tokens)");
  const a = new Platform("A", baseUrl, tokenA);
  const b = new Platform("B", baseUrl, tokenB);
  try {
    await a.listen();
    await b.listen();
    const { sellerInstruction, settlementId } = await submitTrade(a, b);
    const own = await a.client.GET("/v1/instructions/{id}", { params: { path: { id: sellerInstruction } } });
    if (own.data?.settlement_id !== settlementId) throw new Error(`A: its instruction names ${own.data?.settlement_id}`);
    for (const p of [a, b]) {
      await seeSettlementForm(p, settlementId);
      await checkWebhooks(p, settlementId);
      if (!(await p.tamperedCopyIsRejected())) {
        throw new Error(`${p.name}: a tampered webhook was accepted`);
      }
      if (p.failures.length > 0) throw new Error(`${p.name}: genuine webhooks failed: ${p.failures.join("; ")}`);
      console.log(`${p.name}: tampered copy rejected (${p.rejected} rejected in all)`);
      await p.rotationVerifiesWithBothSecrets();
    }
    console.log("ok: settlement formed, every webhook verified, tampered copies rejected, rotation verified");
  } finally {
    await a.close();
    await b.close();
  }
}

main().catch((err: unknown) => {
  console.error(`two-platforms example failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
