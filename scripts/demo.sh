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
docker=(--docker)
args=()
for arg in "$@"; do
  case "$arg" in
    --no-docker) docker=() ;;
    --name | --name=*)
      echo "demo: the demo lab is always named $name; run 'bin/ovs-mesh lab up --name NAME' for another lab" >&2
      exit 2
      ;;
    *) args+=("$arg") ;;
  esac
done

# A previous demo lab, healthy or half built, is replaced.
bin/ovs-mesh lab down --name "$name" >/dev/null

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
