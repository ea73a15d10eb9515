#!/usr/bin/env bash
# Builds ovs-mesh and runs the benchmarks, which write docs/benchmarks.md. Needs root: the
# benchmarks build network namespaces, OVS instances and labs, and remove them at the end.
# Arguments go to the benchmark: --quick, --only SECTIONS, --out FILE, --json FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npx tsc -p tsconfig.json
exec node dist/bench/main.js "$@"
