#!/usr/bin/env python3
"""The workspace's structural rules, checked in CI (scripts/test.sh):

1. No import cycle between modules: within each module, its child modules' uses of each other
   (through `crate::` or `super::` paths, anywhere in the code) form an acyclic graph. A use
   between a module and its own ancestor (a child using what its parent defines, a parent
   using its children) is not a cycle; two siblings using each other, directly or round a ring,
   are. A use from a descendant counts for the child of the common ancestor that holds it.
2. No source file over 600 lines of code outside tests (`tests/` folders and `tests.rs` are
   not counted, nor a file's `#[cfg(test)] mod tests` block).

    python3 scripts/check-structure.py [ROOT]   # exit 1 and a list of what breaks the rules
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
MAX_LINES = 600
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def crates():
    for manifest in sorted(ROOT.glob("crates/*/Cargo.toml")) + [ROOT / "src-tauri/Cargo.toml"]:
        src = manifest.parent / "src"
        if src.is_dir():
            yield manifest.parent.name, src


def module_of(src: Path, file: Path):
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod" or (len(parts) == 1 and parts[0] in ("lib", "main")):
        parts = parts[:-1]
    return tuple(parts)


def strip(code: str) -> str:
    """Drops comments, string literals and a trailing `#[cfg(test)] mod tests { .. }`."""
    code = re.sub(r"//[^\n]*", "", code)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', code)
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{", code)
    return code[: m.start()] if m else code


def paths_in(code: str):
    """Every `crate::a::b` / `super::a` / `self::a` path, `use` groups expanded one level."""
    for m in re.finditer(rf"\b(crate|super|self)((?:::(?:{IDENT}|\{{[^}}]*\}}))+)", code):
        head, rest = m.group(1), m.group(2)
        segs = re.findall(rf"::({IDENT}|\{{[^}}]*\}})", rest)
        prefix = [head]
        for s in segs:
            if s.startswith("{"):
                for item in s[1:-1].split(","):
                    item = item.strip().split(" as ")[0].strip()
                    sub = [x for x in item.split("::") if x and x not in ("{", "}")]
                    if sub:
                        yield prefix + [re.sub(r"[{}\s]", "", x) for x in sub]
                break
            prefix.append(s)
        else:
            yield prefix


def resolve(path, here, modules, is_mod_file):
    """The module a path points into (its longest prefix that is a module)."""
    base = list(here)
    segs = list(path)
    head = segs.pop(0)
    if head == "crate":
        base = []
    elif head == "super":
        # In a.rs or a/mod.rs (module a), `super` is a's parent.
        base = base[:-1]
        while segs and segs[0] == "super":
            segs.pop(0)
            base = base[:-1]
    elif head == "self":
        pass
    full = base + segs
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in modules:
            return tuple(full[:n])
    return ()


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    problems = []
    for name, src in crates():
        files = sorted(p for p in src.rglob("*.rs") if "tests" not in p.relative_to(src).parts
                       and p.name != "tests.rs")
        modules = {module_of(src, f): f for f in files}
        # Sibling graphs: parent module -> {child -> {child}} and the uses behind each edge.
        graphs = defaultdict(lambda: defaultdict(set))
        why = {}
        for f in files:
            text = f.read_text()
            m = re.search(r"^#\[cfg\(test\)\]\s*mod\s+tests\s*\{", text, flags=re.M)
            lines = text[: m.start() if m else len(text)].count("\n")
            if lines > MAX_LINES:
                problems.append(f"{f.relative_to(ROOT)}: {lines} lines (limit {MAX_LINES})")
            here = module_of(src, f)
            for p in paths_in(strip(text)):
                there = resolve(p, here, modules, f.name == "mod.rs")
                n = 0
                while n < min(len(here), len(there)) and here[n] == there[n]:
                    n += 1
                if n == len(here) or n == len(there):
                    continue  # ancestor and descendant
                parent, a, b = here[:n], here[n], there[n]
                graphs[parent][a].add(b)
                why.setdefault((parent, a, b), f"{f.relative_to(ROOT)} uses {'::'.join(p)}")
        for parent, graph in graphs.items():
            for comp in cycles(graph):
                where = "::".join((name,) + parent)
                edges = [why[(parent, a, b)] for a in comp for b in graph[a] if b in comp]
                problems.append(f"import cycle in {where} between {', '.join(comp)}:\n    "
                                + "\n    ".join(edges))
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print("structure: no import cycles, no source file over", MAX_LINES, "lines")


if __name__ == "__main__":
    main()
