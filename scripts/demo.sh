#!/usr/bin/env bash
# Installs what is missing, builds ovs-mesh, brings up a 3-host lab and checks that every
# container reaches every container on the other hosts. Every host runs its own dockerd and
# the containers are Docker containers; pass --no-docker for plain network namespaces.
# Other arguments go to 'ovs-mesh lab up'.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npx tsc -p tsconfig.json

name=demo
if bin/ovs-mesh lab status --name "$name" >/dev/null 2>&1; then
  echo "Removing the previous demo lab"
  bin/ovs-mesh lab down --name "$name"
fi

docker=(--docker)
args=()
for arg in "$@"; do
  if [[ "$arg" == --no-docker ]]; then
    docker=()
  else
    args+=("$arg")
  fi
done

bin/ovs-mesh lab up --name "$name" "${docker[@]}" "${args[@]}"
bin/ovs-mesh lab status --name "$name"
bin/ovs-mesh lab check --name "$name"

cat <<TEXT

The lab is running. Look around:
  bin/ovs-mesh lab status --name $name
  bin/ovs-mesh lab exec --name $name host0 -- ovs-ofctl -O OpenFlow13 dump-flows br0
  bin/ovs-mesh lab exec --name $name host0/c0 -- ping -c 3 10.240.2.2
  bin/ovs-mesh lab check --name $name
Tear it down:
  bin/ovs-mesh lab down --name $name
TEXT
