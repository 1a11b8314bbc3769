#!/usr/bin/env python3
"""The README's bad-input table, from the cases the end-to-end tests ran.

Every passing `expect_error` case of tests/e2e/*.sh (cli_test_lib.sh) writes one row, case,
command, the line of stderr its check matched and exit code, to build/bad_inputs/TEST.tsv when ctest runs it.

  scripts/bad_input_table.py BUILD_DIR --check README.md   # every README row still holds
  scripts/bad_input_table.py BUILD_DIR --write README.md   # regenerate the README's table

--check fails when a row of the README's table was not produced by the last test run (a
message changed, a case was removed) or when the table has fewer than 40 rows; new cases the
README does not list yet are printed, not failures.
"""
import argparse
import glob
import os
import sys

BEGIN = "<!-- bad-input-table:begin (scripts/bad_input_table.py BUILD --write README.md) -->"
END = "<!-- bad-input-table:end -->"
MIN_ROWS = 40


def cell(text):
    return text.replace("|", "\\|").replace("`", "'")


def generated_rows(build):
    files = sorted(glob.glob(os.path.join(build, "bad_inputs", "*.tsv")))
    if not files:
        sys.exit(f"no {build}/bad_inputs/*.tsv: run the e2e tests under ctest first")
    rows = []
    for path in files:
        test = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 4:
                    sys.exit(f"{path}: malformed row: {line!r}")
                name, cmd, msg, rc = parts
                rows.append(f"| {cell(test)} | {cell(name)} | `{cell(cmd)}` | {cell(msg)} | {rc} |")
    return rows


def table(rows):
    head = ["| test | case | command | message (the line checked) | exit |", "|---|---|---|---|---|"]
    return "\n".join([BEGIN] + head + rows + [END])


def readme_rows(text, readme):
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme}: no bad-input table between its markers")
    body = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    return [l for l in body.strip().splitlines()[2:] if l.startswith("|")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("build")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", metavar="README")
    mode.add_argument("--write", metavar="README")
    a = ap.parse_args()
    rows = generated_rows(a.build)
    readme = a.check or a.write
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if a.write:
        if BEGIN not in text:
            sys.exit(f"{readme}: add the markers first:\n{BEGIN}\n{END}")
        new = text[:text.index(BEGIN)] + table(rows) + text[text.index(END) + len(END):]
        tmp = readme + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(new)
        os.replace(tmp, readme)
        print(f"{readme}: {len(rows)} rows")
        return 0
    listed = readme_rows(text, readme)
    produced = set(rows)
    missing = [r for r in listed if r not in produced]
    for r in missing:
        print(f"FAIL: the README row is no longer produced by the tests:\n  {r}")
    for r in rows:
        if r not in set(listed):
            print(f"note: a case the README does not list yet:\n  {r}")
    if len(listed) < MIN_ROWS:
        print(f"FAIL: the README lists {len(listed)} cases, fewer than {MIN_ROWS}")
    ok = not missing and len(listed) >= MIN_ROWS
    print(f"{len(listed)} README rows, {len(rows)} produced, {len(missing)} missing")
    if not ok:
        print(f"regenerate with: scripts/bad_input_table.py {a.build} --write {readme}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
