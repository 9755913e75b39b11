#!/usr/bin/env bash
# Mutation testing of the security core (.cargo/mutants.toml): every small
# deliberate bug cargo-mutants makes in those files must fail a test. Not
# part of CI (.ci/run): the whole scope takes about 4 h with 2 jobs on an
# idle 2-core machine, or four shards of about an hour each: `--shard 0/4`
# … `--shard 3/4` (0-based).
#
#   .ci/mutants.sh                          # the whole scope
#   .ci/mutants.sh -F '^src/normalize\.rs:'  # one file (any cargo-mutants args)
#   JOBS=1 .ci/mutants.sh -F '^src/(normalize|policy)\.rs:'  # a shared machine
#
# (Narrow with -F/--re: a `-f` glob on the command line is added to the
# config's examine_globs instead of replacing them.)
#
# Results go to mutants.out/ (caught.txt, missed.txt, timeout.txt,
# unviable.txt, outcomes.json); `.ci/mutants.sh --iterate` retests only what
# was not caught last time. Copy the summary into docs/TESTING.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is missing: cargo install cargo-mutants --locked" >&2
  exit 2
fi
# Every suite in the scope must really run: a Redis test that skips would
# let a store mutant pass.
export OTPGATE_REQUIRE_ALL=1
started=$(date +%s)
status=0
cargo mutants --jobs "${JOBS:-2}" --no-shuffle "$@" || status=$?
echo "mutants: $(( ($(date +%s) - started) / 60 )) min, exit $status" \
  "(0 all caught, 2 missed, 3 timeouts, 4 baseline failed)"
for f in caught missed timeout unviable; do
  printf '%-9s %s\n' "$f" "$(wc -l < "mutants.out/$f.txt" 2>/dev/null || echo 0)"
done
exit "$status"
