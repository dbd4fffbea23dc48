"""Write the OpenAPI document as openapi-python-client can read it.

Usage: python openapi_for_generator.py IN.json OUT.json

The server's document is valid OpenAPI 3.1 (JSON Schema 2020-12), but the generator's
document model has no boolean schemas. The one place the document uses one is a tuple,
`{"type": "array", "prefixItems": [A, B], "items": false}` (a template's allowed
transitions, `(from, to)` pairs): `items: false` says "nothing after the prefix". This
drops that `items: false` beside a `prefixItems` and changes nothing else; any other
boolean schema is left in place, so the generator refuses it and `script/sdk-test`
fails until this adapter is taught about it. The TypeScript generator reads the
committed document unchanged.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def adapt(node: Any) -> int:
    """Drop `items: false` beside `prefixItems` everywhere below `node`; count them."""
    dropped = 0
    if isinstance(node, dict):
        if node.get("items") is False and "prefixItems" in node:
            del node["items"]
            dropped += 1
        for value in node.values():
            dropped += adapt(value)
    elif isinstance(node, list):
        for value in node:
            dropped += adapt(value)
    return dropped


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        document = json.load(f)
    adapt(document)
    with open(target, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
