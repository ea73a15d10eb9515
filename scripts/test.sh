#!/usr/bin/env bash
# Installs what is missing, then runs the format check, the linter, the type check and every
# test. Integration tests need root: they build labs in network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
npx eslint src test
rm -rf dist
npx tsc -p tsconfig.json

node --test --test-concurrency=1 --test-timeout=600000 \
  dist/test/unit/*.test.js dist/test/integration/*.test.js
