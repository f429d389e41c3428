#!/usr/bin/env bash
# Runs every Fuzz* target in the module for the given time each (default 3s).
set -euo pipefail
fuzztime="${1:-3s}"
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "fuzz ${dir} ${target} (${fuzztime})"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="${fuzztime}" -fuzzminimizetime=1s "./${dir}" >/tmp/fuzz.$$.log 2>&1; then
      cat /tmp/fuzz.$$.log
      status=1
    fi
  done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | sort)
rm -f /tmp/fuzz.$$.log
exit $status
