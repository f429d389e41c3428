#!/usr/bin/env bash
# Runs every Fuzz* target in the module for the given budget each (default 5000x).
# The budget is a count of executions, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report a bare "context deadline exceeded" failure when the time runs out mid-execution
# (golang/go#75804, fixed in Go 1.27), which would fail CI without any failing input.
set -euo pipefail
fuzztime="${1:-5000x}"
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "fuzz ${dir} ${target} (${fuzztime})"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="${fuzztime}" -fuzzminimizetime=2000x "./${dir}" >/tmp/fuzz.$$.log 2>&1; then
      cat /tmp/fuzz.$$.log
      status=1
    fi
  done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | sort)
rm -f /tmp/fuzz.$$.log
exit $status
