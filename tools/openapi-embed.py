#!/usr/bin/env python3
"""Turn docs/openapi.yaml into a C file holding it as compact JSON.

taskapi serves GET /openapi.json from the binary itself, so the document
cannot drift from the build and needs no file on the server.
"""
import json
import sys

import yaml


def main() -> int:
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    data = text.encode("utf-8")
    lines = []
    for i in range(0, len(data), 16):
        lines.append("\t" + ", ".join(str(b) for b in data[i:i + 16]) + ",")
    with open(target, "w", encoding="ascii") as f:
        f.write("/* Generated from %s by tools/openapi-embed.py: do not edit. */\n" % source)
        f.write('#include "openapi.h"\n\n')
        f.write("const unsigned char openapi_json[] = {\n%s\n\t0\n};\n" % "\n".join(lines))
        f.write("const size_t openapi_json_len = %d;\n" % len(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
