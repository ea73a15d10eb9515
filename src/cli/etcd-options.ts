import { parseEndpoint, type EtcdTlsFiles } from "../store/etcd-transport.js";
import { checkClusterName } from "../store/etcd-keys.js";
import { EtcdStore } from "../store/etcd.js";
import { required } from "./args.js";
import { UsageError } from "./command.js";

/** Options that select an etcd cluster, shared by every command that uses one. */
export const ETCD_OPTIONS = {
  etcd: { type: "string" },
  cluster: { type: "string" },
  "etcd-ca": { type: "string" },
  "etcd-cert": { type: "string" },
  "etcd-key": { type: "string" },
} as const;

/** Help text for {@link ETCD_OPTIONS}. */
export const ETCD_USAGE = `  --etcd URL[,URL...]  client URLs of the etcd members, such as https://10.0.0.5:2379
                       (required; members are tried in order)
  --cluster NAME       cluster name; its keys live under /ovs-mesh/NAME/ (required)
  --etcd-ca FILE       CA certificate (PEM) that signed the etcd server certificates;
                       the system's CAs when absent
  --etcd-cert FILE     client certificate (PEM), for etcd with client certificate checks
  --etcd-key FILE      private key (PEM) of --etcd-cert`;

/** Values of {@link ETCD_OPTIONS} as parseOptions returns them. */
export interface EtcdOptionValues {
  etcd?: string;
  cluster?: string;
  "etcd-ca"?: string;
  "etcd-cert"?: string;
  "etcd-key"?: string;
}

/** Checks the etcd options and opens the store; a wrong value is a {@link UsageError} naming it. */
export function openEtcdStore(values: EtcdOptionValues): EtcdStore {
  const endpoints = required(values.etcd, "etcd")
    .split(",")
    .map((endpoint) => endpoint.trim());
  for (const endpoint of endpoints) {
    try {
      parseEndpoint(endpoint);
    } catch (error) {
      if (error instanceof TypeError) {
        throw new UsageError(`--etcd: ${error.message}`);
      }
      throw error;
    }
  }

  const cluster = required(values.cluster, "cluster");
  const problem = checkClusterName(cluster);
  if (problem !== undefined) {
    throw new UsageError(`--cluster: ${problem}`);
  }
  return new EtcdStore({ endpoints, cluster, tls: tlsFiles(values) });
}

function tlsFiles(values: EtcdOptionValues): EtcdTlsFiles | undefined {
  const ca = values["etcd-ca"];
  const cert = values["etcd-cert"];
  const key = values["etcd-key"];
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--etcd-cert and --etcd-key go together: give both or neither");
  }
  if (ca === undefined && cert === undefined) {
    return undefined;
  }
  return { ca, cert, key };
}
