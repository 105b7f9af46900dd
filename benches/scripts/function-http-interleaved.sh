#!/usr/bin/env bash
# The function_http benchmark, run the way its README figure was made: each server measured in
# its own process, the three interleaved for several rounds, medians compared. On a 2-core VM
# where client and servers share the cores, one run of one server varies by ±15 %; interleaving
# keeps drift (frequency, other load) from favouring whichever server runs last.
#
# Usage: benches/scripts/function-http-interleaved.sh [rounds]   (default 6)
set -euo pipefail
rounds=${1:-6}
target=${CARGO_TARGET_DIR:-target}
cargo bench -p cloudport-benches --bench function_http --no-run
bin=$(ls -t "$target"/release/deps/function_http-* | grep -v '\.d$' | head -1)
results=$(mktemp)
for _ in $(seq "$rounds"); do
  for server in bare_axum axum_calling_function cloudport_local_host; do
    "$bin" --bench "function_http/$server\$" --warm-up-time 2 --measurement-time 5 > /dev/null
    python3 - "$target" "$server" >> "$results" <<'PY'
import json, sys
target, server = sys.argv[1], sys.argv[2]
mean = json.load(open(f"{target}/criterion/function_http/{server}/new/estimates.json"))["mean"]["point_estimate"]
print(server, round(256 / (mean / 1e9) / 1000, 2))
PY
  done
done
python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    server, kreq = line.split()
    runs[server].append(float(kreq))
bare = statistics.median(runs["bare_axum"])
for server, values in runs.items():
    median = statistics.median(values)
    print(f"{server:24} median {median:6.1f} k req/s  ratio {median / bare:.2f}  runs {values}")
PY
