#!/usr/bin/env python3
"""Recompute every text case of vectors/lockstep/canonical.json with the Python reference
stack (json.loads, then algovoi_substrate.canonicalize, i.e. rfc8785).

An accepted case must canonicalise to exactly the vector's `canonical`; a refused case
must be refused by Python too, except duplicate member names (json.loads keeps the last;
we refuse them, docs/evidence.md). Exits non-zero on the first disagreement.

Usage (with the venv that bench/evidence/run sets up):
    ~/.cache/lockstep/bench-evidence-venv/bin/python bench/evidence/crosscheck_canonical.py
"""
import json
import pathlib
import sys

from algovoi_substrate.canonicalize import canonicalize

FILE = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "lockstep" / "canonical.json"

agree = duplicates = 0
for c in json.loads(FILE.read_text())["cases"]:
    text = c.get("input_text")
    if text is None:
        continue
    try:
        out, err = canonicalize(json.loads(text)), None
    except Exception as e:  # the reference raises ValueError subclasses and more
        out, err = None, f"{type(e).__name__}: {e}"
    if c["expect"] == "ok":
        if out != c["output"]["canonical"]:
            sys.exit(f"{c['id']}: python gives {out if err is None else err}, vector {c['output']['canonical']}")
    elif err is None:
        if "duplicate member name" not in c["error"]:
            sys.exit(f"{c['id']}: python accepts ({out}), we refuse: {c['error']}")
        duplicates += 1
        continue
    agree += 1
print(f"canonical.json: {agree} cases agree with rfc8785 on json.loads; "
      f"{duplicates} duplicate-member refusals where json.loads is lenient")
