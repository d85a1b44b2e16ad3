#!/usr/bin/env python3
"""Checks that no function of core, ffi, python or cli is longer than 60 lines (its
signature, body and closing brace; doc comments and tests not counted): a longer one is a
sign that it holds more than one step."""

import pathlib
import re
import sys

LIMIT = 60
root = pathlib.Path(__file__).resolve().parent.parent
start = re.compile(r"^\s*(pub(\([a-z]+\))?\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"C\"\s+)?fn\s+(\w+)")
long = []
for crate in ["core", "ffi", "python", "cli"]:
    for path in sorted((root / crate / "src").rglob("*.rs")):
        lines = path.read_text().split("#[cfg(test)]")[0].splitlines()
        i = 0
        while i < len(lines):
            m = start.match(lines[i])
            if not m or lines[i].rstrip().endswith(";"):
                i += 1
                continue
            depth, j, opened = 0, i, False
            while j < len(lines):
                code = re.sub(r'"(\\.|[^"\\])*"|//.*', "", lines[j])
                depth += code.count("{") - code.count("}")
                opened = opened or "{" in code
                if opened and depth <= 0:
                    break
                if not opened and code.rstrip().endswith(";"):
                    break  # a declaration in a trait
                j += 1
            n = j - i + 1
            if n > LIMIT:
                long.append(f"{path.relative_to(root)}:{i + 1}: fn {m.group(6)} is {n} lines")
            i += 1 if not opened else 1
if long:
    sys.exit("functions over %d lines:\n%s" % (LIMIT, "\n".join(long)))
print(f"functions: none over {LIMIT} lines in core, ffi, python, cli")
