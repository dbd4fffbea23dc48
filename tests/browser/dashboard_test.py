"""Browser tests of the Lockstep dashboard in a real headless Chromium (Debian's, driven by
Playwright for Python; never a downloaded browser). Run by script/browser-test, which starts
`lockstep devnet` (two anvils, LayerZero, escrows, coordinator, verifier) and passes:

  DEVNET_JSON   the devnet's devnet.json (keys, chains, coordinator URL)
  LOCKSTEP_BIN  the lockstep binary (platform and token creation on the devnet's config)
  CAST          Foundry's cast (the parties' approve and deposit transactions)
  CHROMIUM      the browser executable (/usr/bin/chromium)
  SHOTS         where the screenshots go

What it proves: each platform and the operator sign in with their bearer token and see a
real cross-chain settlement move to FINALIZED in the page; another platform cannot reach
it by URL (as in the API); the verify button passes for the real bundle; a tampered bundle
fails on the verify page; signing in with a bad token is refused.
"""

import copy
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

INFO = json.load(open(os.environ["DEVNET_JSON"]))
BASE = INFO["coordinator_url"]
BIN = os.environ["LOCKSTEP_BIN"]
CAST = os.environ["CAST"]
SHOTS = os.environ["SHOTS"]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def cli(*args):
    out = subprocess.run([BIN, *args, "--config", INFO["config"]], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def call(method, path, token, body=None):
    req = urllib.request.Request(BASE + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait(what, check, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        v = check()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


class Receiver(http.server.BaseHTTPRequestHandler):
    """Accepts every webhook (the dashboard shows the deliveries; signatures are the API
    tests' business)."""

    def do_POST(self):  # noqa: N802 - the http.server name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_):
        pass


def receive_webhooks(platforms):
    """A loopback receiver, registered as a webhook endpoint of every platform."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for p in platforms:
        url = f"http://127.0.0.1:{server.server_address[1]}/{p['platform_id']}"
        s, v = call("POST", "/v1/webhook-endpoints", p["token"], {"url": url})
        assert s == 201, v
    return server


def settle(seller, buyer):
    """One BOND (chain A) for CASH (chain B) trade between the two platforms; returns its id
    once both deposits are sent."""
    a, b = INFO["chains"]
    timeout = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))

    def side(role, wallet, party_chain, tr):
        deliver_asset = role == "seller"
        return {
            "idempotency_key": f"browser-{role}", "template_slug": "cross-chain-dvp", "role": role,
            "party": {"external_reference": f"browser-{role}", "name": f"{role} custody",
                      "wallet_address": wallet, "chain_id": party_chain},
            "legs": [
                {"leg_type": "asset_delivery", "instrument_id": a["tokens"]["BOND"], "quantity": "1000000000000000000",
                 "direction": "deliver" if deliver_asset else "receive", "chain_id": a["chain_id"]},
                {"leg_type": "payment", "instrument_id": b["tokens"]["CASH"], "quantity": "25000000",
                 "direction": "receive" if deliver_asset else "deliver", "chain_id": b["chain_id"]},
            ],
            "timeout_at": timeout, "trade_reference": tr,
        }

    parties = INFO["parties"]
    s, first = call("POST", "/v1/instructions", seller["token"],
                    side("seller", parties["seller"]["address"], a["chain_id"], None))
    assert s == 201, first
    s, second = call("POST", "/v1/instructions", buyer["token"],
                     side("buyer", parties["buyer"]["address"], b["chain_id"], first["trade_reference"]))
    assert s == 201 and second["settlement_id"], second
    sid = second["settlement_id"]
    wait("AWAITING_DEPOSITS", lambda: call("GET", f"/v1/settlements/{sid}", seller["token"])[1]["state"]
         == "AWAITING_DEPOSITS")
    rpc = {c["chain_id"]: c["rpc_url"] for c in INFO["chains"]}
    for platform, key in ((seller, parties["seller"]["private_key"]), (buyer, parties["buyer"]["private_key"])):
        s, deps = call("GET", f"/v1/settlements/{sid}/deposits", platform["token"])
        assert s == 200 and deps["total"] == 1, deps
        d = deps["items"][0]
        for to, data in ((d["token"], d["approve_calldata"]), (d["escrow"], d["deposit_calldata"])):
            subprocess.run([CAST, "send", "--rpc-url", rpc[d["chain_id"]], "--private-key", key, to, data],
                           check=True, capture_output=True)
    return sid


def sign_in(page, token):
    page.goto(BASE + "/dashboard")
    page.fill("#token", token)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#nav")).to_be_visible()
    # Sign-in lands on the list by setting the URL's fragment; the browser commits that
    # navigation after the page shows the list, and a test navigation started before it
    # commits is overtaken by it (the next page.goto would land on the list).
    expect(page).to_have_url(re.compile(r"/dashboard#/settlements$"))


def main():
    seller = cli("platform", "create", "--name", "Bond issuer platform")
    buyer = cli("platform", "create", "--name", "Fund platform")
    stranger = cli("platform", "create", "--name", "Unrelated platform")
    operator = cli("token", "issue", "--operator")
    receiver = receive_webhooks([seller, buyer, stranger])
    sid = settle(seller, buyer)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ["CHROMIUM"], headless=True, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 1000})

        # A bad token is refused at sign-in.
        page.goto(BASE + "/dashboard")
        page.fill("#token", "lsk_not_a_token")
        page.click("#sign-in-form button[type=submit]")
        expect(page.locator("#sign-in-error")).to_have_text("That token is not valid.")

        # The seller's platform: the list, then the settlement moving to FINALIZED.
        sign_in(page, seller["token"])
        expect(page.locator("#settlements-table")).to_contain_text(sid)
        page.screenshot(path=f"{SHOTS}/settlements.png", full_page=True)
        page.click(f"a[href='#/settlement/{sid}']")
        expect(page.locator("#settlement-state")).to_have_text("FINALIZED", timeout=90_000)
        expect(page.locator("#timeline")).to_contain_text("EXECUTING_SWAP")
        expect(page.locator("#webhook-deliveries")).to_contain_text("settlement.state.finalized", timeout=30_000)
        expect(page.locator("#legs")).to_contain_text("COMMITTED")
        # Both deposits as the escrows recorded them: who, which leg, which transaction.
        expect(page.locator("#deposits tbody tr")).to_have_count(2)
        expect(page.locator("#deposits")).to_contain_text(INFO["parties"]["seller"]["address"])
        expect(page.locator("#deposits")).to_contain_text(INFO["parties"]["buyer"]["address"])
        page.click("#verify-button")
        expect(page.locator("#verify-result")).to_contain_text("PASSED: the bundle is genuine", timeout=30_000)
        expect(page.locator("#verify-result")).to_contain_text("Against the chains")
        page.screenshot(path=f"{SHOTS}/settlement.png", full_page=True)
        # Only its own deliveries: the buyer's platform id appears nowhere in the table.
        expect(page.locator("#webhook-deliveries")).not_to_contain_text(buyer["platform_id"])
        page.click("#sign-out")

        # The buyer's platform sees the same settlement, final.
        sign_in(page, buyer["token"])
        page.goto(f"{BASE}/dashboard#/settlement/{sid}")
        expect(page.locator("#settlement-state")).to_have_text("FINALIZED")
        page.click("#sign-out")

        # Another platform: not in its list, and not reachable by URL.
        sign_in(page, stranger["token"])
        expect(page.locator("#settlements-table")).not_to_contain_text(sid)
        page.goto(f"{BASE}/dashboard#/settlement/{sid}")
        expect(page.locator("#not-found")).to_be_visible()
        expect(page.locator("#view")).not_to_contain_text(INFO["parties"]["seller"]["address"])
        page.screenshot(path=f"{SHOTS}/not-found.png", full_page=True)
        page.click("#sign-out")

        # The operator: counts, packets (both delivered), and every platform's deliveries.
        sign_in(page, operator["token"])
        expect(page.locator("#nav-operator")).to_be_visible()
        page.click("#nav-operator")
        expect(page.locator("#counts")).to_contain_text("FINALIZED")
        expect(page.locator("#packets")).to_contain_text("delivered")
        expect(page.locator("#verifiers")).to_contain_text("healthy")
        expect(page.locator("#verifiers")).not_to_contain_text("unhealthy")
        page.screenshot(path=f"{SHOTS}/operator.png", full_page=True)
        page.goto(f"{BASE}/dashboard#/settlement/{sid}")
        expect(page.locator("#webhook-deliveries")).to_contain_text(buyer["platform_id"])
        expect(page.locator("#webhook-deliveries")).to_contain_text(seller["platform_id"])

        # The verify page: the real bundle passes, a tampered one fails.
        bundle = call("GET", f"/v1/settlements/{sid}/evidence", operator["token"])[1]["bundle"]
        tampered = copy.deepcopy(bundle)
        amount = tampered["facts"]["legs"][0]["amount"]
        tampered["facts"]["legs"][0]["amount"] = str(int(amount) + 1)
        page.goto(f"{BASE}/dashboard#/verify")
        page.fill("#bundle-input", json.dumps(bundle))
        page.click("#verify-pasted")
        expect(page.locator("#verify-result")).to_contain_text("PASSED", timeout=30_000)
        page.fill("#bundle-input", json.dumps(tampered))
        page.click("#verify-pasted")
        expect(page.locator("#verify-result")).to_contain_text("FAILED: the bundle does not verify", timeout=30_000)
        page.screenshot(path=f"{SHOTS}/verify-tampered.png", full_page=True)
        browser.close()
    receiver.shutdown()
    print(f"dashboard browser tests passed; screenshots in {SHOTS}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the runner reports any failure and exits 1
        print(f"dashboard browser test FAILED: {e!r}", file=sys.stderr)
        sys.exit(1)
