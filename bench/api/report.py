"""Prints the summary table of bench/api/run from its JSON lines (one per backend)."""

import json
import sys


# Screening rounds the settlement worker runs side by side per backend
# (crates/coordinator/src/settlements/worker.rs, `parallel_rounds`).
ROUNDS = {"sqlite": 1, "postgres": 4}


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
        # Keeping pace: at the end of each run no more was matched but not yet cleared
        # than the worker's rounds hold in flight (one batch of 64 per round; rounds side
        # by side: 1 on SQLite, 4 on PostgreSQL, settlements::worker::parallel_rounds),
        # and every matched settlement cleared.
        bound = 64 * ROUNDS[r["backend"]]
        pace = all(
            r[n]["backlog_at_end"] <= bound and r[n]["drain_seconds"] is not None
            for n in ("c8", "c32")
        )
        print(
            f"{r['backend']}: raw commits/s {raw:.1f} (before {before:.1f}, after "
            f"{after:.1f}); instructions/s at 8 clients "
            f"{c8:.1f} = {ratio:.0%} of raw ({verdict(ratio >= 0.5)} vs >= 50%); "
            f"p99 at half load {p99:.2f} ms ({verdict(p99 <= 25.0)} vs <= 25 ms); "
            f"clearance keeps pace with matching: {verdict(pace)} (backlog at the end "
            f"{r['c8']['backlog_at_end']} / {r['c32']['backlog_at_end']} vs <= {bound}); "
            f"'settlement step failed' warnings: {r['step_failures']}"
        )


if __name__ == "__main__":
    main(sys.argv[1])
