#!/usr/bin/env bash
# The reliability + security + fuzz suite against a real local Slurm lab and the embedded server.
#   bash scripts/fault-suite.sh            short form (what CI runs; a few minutes)
#   bash scripts/fault-suite.sh --long     long form: bigger sweeps, repeated faults, >= 10,000
#                                          fuzz cases per property (HPCQ_FUZZ_EXAMPLES)
# Figures of every fault case are appended to bench/results/faults.jsonl (HPCQ_FAULT_FIGURES);
# the run's summary goes to bench/results/fault-suite.json. Needs root for the Slurm lab
# (tests skip with a reason otherwise, and fail under CI=true).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
mode=short
[ "${1:-}" = "--long" ] && mode=long && shift
mkdir -p bench/results
export HPCQ_FAULT_FIGURES=${HPCQ_FAULT_FIGURES:-$PWD/bench/results/faults-$mode.jsonl}
: > "$HPCQ_FAULT_FIGURES"
if [ "$mode" = long ]; then
  export HPCQ_FUZZ_EXAMPLES=${HPCQ_FUZZ_EXAMPLES:-10000}
  sel=(-m "slow or not slow")
else
  sel=()
fi
t0=$(date +%s)
"$PY" -m pytest tests/reliability tests/security tests/fuzz "${sel[@]}" -p no:cacheprovider -q -rA \
  --durations=0 --junitxml="bench/results/fault-suite-$mode.xml" "$@" 2>&1 | tee "bench/results/fault-suite-$mode.log"
rc=${PIPESTATUS[0]}
t1=$(date +%s)
"$PY" - "$mode" "$rc" "$((t1 - t0))" <<'PY'
import json, os, sys, xml.etree.ElementTree as ET
mode, rc, wall = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import re
cases = []
for tc in ET.parse(f"bench/results/fault-suite-{mode}.xml").getroot().iter("testcase"):
    cases.append({"test": f"{tc.get('classname')}::{tc.get('name')}", "time_s": float(tc.get("time", 0))})
# outcomes from pytest's -rA summary (junit has no xfail/xpass distinction)
outcome = {}
for line in open(f"bench/results/fault-suite-{mode}.log"):
    m = re.match(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)", line)
    if m:
        outcome[m.group(2)] = m.group(1)
for c in cases:
    mod, _, name = c["test"].rpartition("::")
    c["result"] = next((v for k, v in outcome.items() if k.endswith("::" + name) and
                        k.split("::")[0].replace("/", ".").removesuffix(".py").endswith(mod.split(".")[-1])), "?")
figs = [json.loads(l) for l in open(os.environ["HPCQ_FAULT_FIGURES"]) if l.strip()]
out = {"mode": mode, "rc": rc, "wall_s": wall, "fuzz_examples": os.environ.get("HPCQ_FUZZ_EXAMPLES", "200"),
       "counts": {k: sum(c["result"] == k for c in cases) for k in ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS", "?")},
       "cases": cases, "fault_figures": figs}
json.dump(out, open(f"bench/results/fault-suite-{mode}.json", "w"), indent=1)
print(json.dumps(out["counts"]), f"wall {wall} s")
PY
exit $rc
