"""Prints the summary table of bench/api/run from its JSON lines (one per backend)."""

import json
import sys


def verdict(ok):
    return "ok" if ok else "MISSED"


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    print(
        f"{'backend':9} {'run':6} {'instr/s':>8} {'pairs/s':>8} {'cleared/s':>9} "
        f"{'backlog':>7} {'drain s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    for r in rows:
        for name in ("c8", "c32", "half8"):
            m = r[name]
            drain = m["drain_seconds"]
            print(
                f"{r['backend']:9} {name:6} {m['instructions_per_second']:8.1f} "
                f"{m['matched_pairs_per_second']:8.1f} {m['cleared_per_second']:9.1f} "
                f"{m['backlog_at_end']:7d} {('-' if drain is None else f'{drain:.2f}'):>7} "
                f"{m['latency_ms']['p50']:7.2f} {m['latency_ms']['p99']:7.2f} {m['errors']:6d}"
            )
    print()
    for r in rows:
        # The raw rate before and after the 8-client run (the machine's speed drifts):
        # the ratio is against their mean.
        before = r["raw"]["commits_per_second"]
        after = r.get("raw_after", r["raw"])["commits_per_second"]
        raw = (before + after) / 2
        c8 = r["c8"]["instructions_per_second"]
        ratio = c8 / raw if raw else 0.0
        p99 = r["half8"]["latency_ms"]["p99"]
        # Keeping pace: at the end of each run no more than one batch (64) was matched
        # but not yet cleared, and every matched settlement cleared.
        pace = all(
            r[n]["backlog_at_end"] <= 64 and r[n]["drain_seconds"] is not None
            for n in ("c8", "c32")
        )
        print(
            f"{r['backend']}: raw commits/s {raw:.1f} (before {before:.1f}, after "
            f"{after:.1f}); instructions/s at 8 clients "
            f"{c8:.1f} = {ratio:.0%} of raw ({verdict(ratio >= 0.5)} vs >= 50%); "
            f"p99 at half load {p99:.2f} ms ({verdict(p99 <= 25.0)} vs <= 25 ms); "
            f"clearance keeps pace with matching: {verdict(pace)}; "
            f"'settlement step failed' warnings: {r['step_failures']}"
        )


if __name__ == "__main__":
    main(sys.argv[1])
