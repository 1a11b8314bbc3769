#!/usr/bin/env python3
"""Layering: every #include "..." of each library folder against the allowed dependency graph
(README.md, Layout). A library may include its own files and those of the libraries below it:

  core                          a leaf
  graph, hw        <- core      graph and hw never include each other
  sim              <- core, graph
  qdq (sim/qdq/)   <- core, graph, sim
  phase2           <- core      the search/ files listed under add_library(mpq_phase2 ...)
  search           <- core, graph, hw, sim, phase2
  cli              <- all

Prints file:line: the include and why for each violation; exits 1 when there is one.
Usage: layering_check.py [REPO_DIR]
"""
import os
import re
import sys

ALLOWED = {
    "core": {"core"},
    "graph": {"core", "graph"},
    "hw": {"core", "hw"},
    "sim": {"core", "graph", "sim"},
    "qdq": {"core", "graph", "sim", "qdq"},
    "phase2": {"core", "phase2"},
    "search": {"core", "graph", "hw", "sim", "phase2", "search"},
    "cli": {"core", "graph", "hw", "sim", "qdq", "phase2", "search", "cli"},
}
FOLDERS = ["core", "graph", "hw", "sim", "search", "cli"]
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def phase2_stems():
    text = open("search/CMakeLists.txt").read()
    m = re.search(r"add_library\(mpq_phase2(.*?)\)", text, re.S)
    stems = set(re.findall(r"([A-Za-z0-9_]+)\.cpp", m.group(1))) if m else set()
    if not stems:
        sys.exit("layering_check: no mpq_phase2 sources found in search/CMakeLists.txt")
    return stems


def library_of(path, stems):
    top = path.split("/")[0]
    if path.startswith("sim/qdq/"):
        return "qdq"
    if top == "search":
        return "phase2" if os.path.splitext(os.path.basename(path))[0] in stems else "search"
    return top if top in ALLOWED else None


def resolve(from_dir, name):
    """The repository file an include names: beside the including file first (as the compiler
    looks), then from the repository root (every library's include directory)."""
    for candidate in (os.path.join(from_dir, name), name):
        if os.path.isfile(candidate):
            return os.path.relpath(os.path.normpath(candidate))
    return None


def main():
    os.chdir(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    stems = phase2_stems()
    files = sorted(
        os.path.join(d, f)
        for top in FOLDERS
        for d, _, names in os.walk(top)
        for f in names
        if f.endswith((".cpp", ".hpp")))
    checked, violations = 0, 0
    for path in files:
        lib = library_of(path, stems)
        with open(path, encoding="utf-8") as src:
            for line_no, line in enumerate(src, 1):
                m = INCLUDE.match(line)
                target = m and resolve(os.path.dirname(path), m.group(1))
                if not target:
                    continue  # not an include of a file of this repository
                checked += 1
                to = library_of(target, stems)
                if to and to not in ALLOWED[lib]:
                    print(f'{path}:{line_no}: #include "{m.group(1)}": {lib} may not include '
                          f"{to} ({target}); {lib} may include: {', '.join(sorted(ALLOWED[lib]))}")
                    violations += 1
    if checked == 0:
        sys.exit("layering_check: no includes checked (wrong directory?)")
    print(f"layering_check: {checked} includes checked, {violations} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
