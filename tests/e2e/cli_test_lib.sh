# Shared by the end-to-end shell tests (sourced, not run): arguments, a temporary directory
# removed on exit, pass/fail counters and the checks every CLI test makes.
#
#   . "$(dirname "$0")/cli_test_lib.sh"
#   cli_test_init NAME "$@"        # MPQ_BINARY SOURCE_DIR -> $MPQ, $SRC, $PY, $TMP
#   ...
#   cli_test_finish                # prints the counts; the script's exit status

cli_test_init() {
  local name=$1
  shift
  if [ $# -lt 2 ]; then
    echo "usage: $0 MPQ_BINARY SOURCE_DIR" >&2
    exit 2
  fi
  MPQ=$1
  SRC=$2
  PY=/usr/bin/python3
  if [ ! -x "$MPQ" ]; then
    echo "FAIL: mpq binary $MPQ does not exist or is not executable" >&2
    exit 1
  fi
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/mpq_e2e_$name.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  fails=0
  passes=0
  # The bad-input table (scripts/bad_input_table.py): every passing expect_error case is
  # recorded here when the test runs under ctest.
  [ -n "${MPQ_BAD_INPUT_ROWS:-}" ] && mkdir -p "$(dirname "$MPQ_BAD_INPUT_ROWS")" &&
    : >"$MPQ_BAD_INPUT_ROWS"
}

# record_bad_input NAME PATTERN RC CMD...: one tab-separated row (case, command, the line of
# stderr the check matched, exit code) with the temporary and source directories left out of
# the paths.
record_bad_input() {
  [ -n "${MPQ_BAD_INPUT_ROWS:-}" ] || return 0
  local name=$1 pattern=$2 rc=$3
  shift 3
  local cmd="$*" msg
  msg=$(grep -Ei -m 1 -- "$pattern" "$TMP/stderr")
  cmd=${cmd//"$MPQ"/mpq}
  local text
  for text in cmd msg name; do
    local v=${!text}
    v=${v//"$TMP/"/}
    v=${v//"$SRC/"/}
    v=${v//$'\t'/ }
    printf -v "$text" '%s' "$v"
  done
  printf '%s\t%s\t%s\t%s\n' "$name" "$cmd" "$msg" "$rc" >>"$MPQ_BAD_INPUT_ROWS"
}

ok() {
  passes=$((passes + 1))
  echo "ok   $1"
}

# bad NAME: a failed check; shows the last command's output when there is one.
bad() {
  fails=$((fails + 1))
  echo "FAIL $1"
  [ -s "$TMP/stderr" ] && sed 's/^/     stderr: /' "$TMP/stderr" | head -n 8
  [ -s "$TMP/stdout" ] && sed 's/^/     stdout: /' "$TMP/stdout" | head -n 4
  return 0
}

# expect_error NAME PATTERN [FILE...] -- CMD...
# CMD must exit with code 2, its stderr start with "mpq: error:" and match PATTERN (extended
# regex, case-insensitive), and none of the FILEs ("-" for none) nor their temporaries (FILE.tmp*)
# exist afterwards. The FILEs are removed before CMD runs. Extra environment: `env` before CMD.
expect_error() {
  local name=$1 pattern=$2 files=() problems=()
  shift 2
  while [ "$1" != "--" ]; do
    [ "$1" != "-" ] && files+=("$1")
    shift
  done
  shift
  rm -f "${files[@]}"
  rm -f "$TMP/stdout" "$TMP/stderr"
  "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  local rc=$?
  [ "$rc" -eq 2 ] || problems+=("exit code $rc, expected 2")
  head -c 12 "$TMP/stderr" | grep -q '^mpq: error:' ||
    problems+=("stderr does not start with 'mpq: error:'")
  grep -Eqi -- "$pattern" "$TMP/stderr" || problems+=("stderr does not match /$pattern/")
  local f
  for f in "${files[@]}"; do
    [ -e "$f" ] && problems+=("$f was written") && rm -f "$f"
    compgen -G "$f.tmp*" >/dev/null && problems+=("a temporary $f.tmp* was left")
  done
  if [ ${#problems[@]} -eq 0 ]; then
    ok "$name"
    record_bad_input "$name" "$pattern" "$rc" "$@"
  else
    bad "$name: $(IFS=';'; echo "${problems[*]}")"
    echo "     command: $*"
  fi
}

# expect_ok NAME [PATTERN] -- CMD...: CMD exits 0 and its stdout matches PATTERN (extended
# regex; default: not empty).
expect_ok() {
  local name=$1 pattern=.
  [ "$2" != "--" ] && pattern=$2 && shift
  shift 2
  rm -f "$TMP/stdout" "$TMP/stderr"
  "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  local rc=$?
  if [ "$rc" -eq 0 ] && grep -Eq -- "$pattern" "$TMP/stdout"; then
    ok "$name"
  else
    bad "$name: exit code $rc (expected 0) or stdout does not match /$pattern/"
    echo "     command: $*"
  fi
}

# expect_notice NAME PATTERN -- CMD...: input mpq recovers from rather than refuses (e.g. a cache
# made from other inputs, set aside): CMD exits 0 and a line of its stderr, starting with
# "mpq: note:", matches PATTERN; recorded in the bad-input table with exit code 0.
expect_notice() {
  local name=$1 pattern=$2
  shift 3
  rm -f "$TMP/stdout" "$TMP/stderr"
  "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  local rc=$?
  if [ "$rc" -eq 0 ] && grep '^mpq: note:' "$TMP/stderr" | grep -Eqi -- "$pattern"; then
    ok "$name"
    record_bad_input "$name" "$pattern" "$rc" "$@"
  else
    bad "$name: exit code $rc (expected 0) or no 'mpq: note:' line matching /$pattern/"
    echo "     command: $*"
  fi
}

cli_test_finish() {
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
}
