#!/usr/bin/env bash
# Fails (exit 1) when a C++ source differs from what clang-format (.clang-format) makes of it,
# naming each file and line; a ctest (style_clang_format) runs it. Fix with:
#   git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check_format: clang-format is missing (scripts/setup.sh installs it)" >&2
  exit 2
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
else
  mapfile -t files < <(find cli graph hw search sim tests bench -name '*.cpp' -o -name '*.hpp')
fi
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "check_format: the files above are not clang-formatted" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files clang-formatted"
