// Recomputes every text case of vectors/lockstep/canonical.json with the npm
// `canonicalize` package on `JSON.parse` (the Node reference stack):
//   - an accepted case must canonicalise to exactly the vector's `canonical`;
//   - a refused case must be refused by Node too, except where we are deliberately
//     stricter than `JSON.parse` (docs/evidence.md): duplicate member names (Node keeps
//     the last) and integer literals beyond ±(2^53-1) (Node rounds them to a double).
// Usage (after `npm ci` in bench/evidence): node bench/evidence/crosscheck_canonical.mjs
import canonicalize from "canonicalize";
import { readFileSync } from "node:fs";

const file = new URL("../../vectors/lockstep/canonical.json", import.meta.url);
const doc = JSON.parse(readFileSync(file, "utf8"));
const stricter = (error) => /duplicate member name|is outside ±\(2\^53-1\)/.test(error);
let agree = 0, stricterThanNode = 0;
const fail = (msg) => { console.error(msg); process.exitCode = 1; };
for (const c of doc.cases) {
  if (typeof c.input_text !== "string") continue;
  let out, err;
  try { out = canonicalize(JSON.parse(c.input_text)); } catch (e) { err = e.message; }
  if (c.expect === "ok") {
    if (out !== c.output.canonical) fail(`${c.id}: node gives ${out ?? "error " + err}, vector ${c.output.canonical}`);
    else agree++;
  } else if (err !== undefined) {
    agree++;
  } else if (stricter(c.error)) {
    stricterThanNode++;
  } else {
    fail(`${c.id}: node accepts (${out}), we refuse: ${c.error}`);
  }
}
console.log(`canonical.json: ${agree} cases agree with canonicalize on JSON.parse; ` +
  `${stricterThanNode} refused by us where JSON.parse is lenient (duplicates, unsafe integers)`);
