#!/usr/bin/env bash
# Run every benchmark (bench/bench_*.py) one after another, then print the collected figures.
#   bash bench/run_all.sh [NAME ...]        e.g.  bash bench/run_all.sh server executor
# Each script writes bench/results/<name>.json and prints it; this script runs them with the
# repo's venv, records per-script wall time and exit code, and merges everything into
# bench/results/all.json ({"machine": ..., "date": ..., "runs": [...], "results": {name: json}}).
# A failing bench does not stop the others; the exit code is the number of failures.
# Extra arguments per bench: BENCH_ARGS_<name>, e.g. BENCH_ARGS_catalog="--files 2000".
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
mkdir -p bench/results
want=("$@")
runs=()
fails=0
for script in bench/bench_*.py; do
  name=$(basename "$script" .py); name=${name#bench_}
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $name " ]]; then continue; fi
  echo "=== $script ($(date -u +%H:%M:%S))"
  t0=$(date +%s.%N)
  var="BENCH_ARGS_$name"; extra=${!var:-}
  echo "    args: ${extra:-(defaults)}"
  # shellcheck disable=SC2086
  "$PY" "$script" $extra > "bench/results/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  tail -n 40 "bench/results/$name.log"
  [ $rc -ne 0 ] && fails=$((fails + 1)) && echo "!!! $script failed (rc $rc); log: bench/results/$name.log"
  runs+=("{\"bench\":\"$name\",\"rc\":$rc,\"wall_s\":$(echo "$t1 - $t0" | bc)}")
done
"$PY" - "${runs[@]}" <<'PY'
import json, os, platform, sys, time
from pathlib import Path
runs = [json.loads(a) for a in sys.argv[1:]]
res = {}
for p in sorted(Path("bench/results").glob("*.json")):
    if p.name == "all.json":
        continue
    try:
        res[p.stem] = json.loads(p.read_text())
    except ValueError:
        res[p.stem] = {"error": "unreadable"}
out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
       "runs": runs, "results": res}
Path("bench/results/all.json").write_text(json.dumps(out, indent=1, sort_keys=True))
print(json.dumps({"runs": runs, "results": sorted(res)}, indent=1))
PY
exit $fails
