#!/usr/bin/env python3
"""Checks that core's modules form layers: each module uses (through `crate::module`) only
modules of the layers before its own, so no two modules import each other. The layers are
the comment in core/src/lib.rs, e.g. "// Layers, ...: error; endpoints, change; config; ...".
"""

import pathlib
import re
import sys

src = pathlib.Path(__file__).resolve().parent.parent / "core" / "src"
lib = (src / "lib.rs").read_text()
comment = re.search(r"// Layers,[^:]*:((?:.|\n)*?)\.\n", lib)
if not comment:
    sys.exit("core/src/lib.rs has no '// Layers, ...:' comment")
text = " ".join(line.strip().lstrip("/") for line in comment.group(1).splitlines())
layers = [[m.strip() for m in part.split(",")] for part in text.split(";")]
rank = {m: i for i, layer in enumerate(layers) for m in layer}
declared = set(re.findall(r"^mod (\w+);", lib, re.M))
bad = sorted(declared ^ set(rank))
if bad:
    sys.exit(f"modules and layers differ: {bad}")
errors = []
for module in declared:
    code = (src / f"{module}.rs").read_text().split("#[cfg(test)]")[0]
    for used in sorted(set(re.findall(r"crate::(\w+)", code)) - {module}):
        if used not in rank:
            errors.append(f"{module}.rs uses crate::{used}: import from its module instead")
        elif rank[used] >= rank[module]:
            errors.append(f"{module}.rs (layer {rank[module]}) uses {used} (layer {rank[used]})")
if errors:
    sys.exit("\n".join(errors))
print(f"core layers ok: {' | '.join(', '.join(layer) for layer in layers)}")
