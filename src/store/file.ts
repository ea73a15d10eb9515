import { watch as watchDirectory, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { isSeq } from "yaml";
import { ConfigError, checkHostName, parseHost, type HostSpec } from "../plan/cluster.js";
import { allocateSubnet, checkSubnet } from "../plan/ipam.js";
import { writeFileAtomic } from "../host/atomic-file.js";
import { HostNotFoundError, JoinConflictError } from "./errors.js";
import {
  clusterView,
  rawHostEntries,
  readClusterDocument,
  type ClusterDocument,
} from "./file-view.js";
import { withFileLock, type LockOptions } from "./lock.js";
import type { ClusterStore, ClusterView, JoinRequest } from "./store.js";

/** Options for {@link FileStore}. */
export interface FileStoreOptions {
  /** How long writers wait for each other and when a lock counts as stale. */
  lock?: LockOptions;
  /** Milliseconds that `watch` waits for more events before it calls back; 50 when absent. */
  debounceMs?: number;
}

/**
 * A cluster kept in a YAML file: the settings at the top level and a `hosts` list. Writers
 * take the lock file `<path>.lock` and replace the file atomically, so concurrent joins on
 * one machine never lose an entry or give one subnet twice. Edits keep the file's comments.
 */
export class FileStore implements ClusterStore {
  readonly lockPath: string;

  constructor(
    readonly path: string,
    private readonly options: FileStoreOptions = {},
  ) {
    this.lockPath = `${path}.lock`;
  }

  async load(): Promise<ClusterView> {
    const { value } = await readClusterDocument(this.path);
    return clusterView(value, this.path);
  }

  /** Watches the file's directory, because an atomic replace gives the file a new inode. */
  watch(onChange: () => void, onError: (error: Error) => void): () => void {
    const name = basename(this.path);
    const debounceMs = this.options.debounceMs ?? 50;
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher;
    try {
      watcher = watchDirectory(dirname(this.path), (_event, filename) => {
        // Some platforms give no file name; then any change in the directory counts.
        if (filename !== null && filename !== name) {
          return;
        }
        clearTimeout(timer);
        timer = setTimeout(onChange, debounceMs);
      });
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
      return () => undefined;
    }
    watcher.on("error", onError);
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  }

  /**
   * Adds the host with the requested subnet, or the lowest free one. A host that is already
   * listed keeps its subnet; a changed underlay IP is written to the file.
   */
  async join(request: JoinRequest): Promise<HostSpec> {
    const nameProblem = checkHostName(request.name);
    if (nameProblem !== undefined) {
      throw new ConfigError("join request", [{ path: "name", message: nameProblem }]);
    }
    return withFileLock(this.lockPath, () => this.joinLocked(request), this.options.lock);
  }

  private async joinLocked(request: JoinRequest): Promise<HostSpec> {
    const file = await readClusterDocument(this.path);
    const view = clusterView(file.value, this.path);
    const entries = rawHostEntries(file.value);
    const index = entries.findIndex((entry) => entry.name === request.name);
    const existing = view.hosts.find((host) => host.name === request.name);

    if (index >= 0 && existing === undefined) {
      const problems = view.problems.filter((problem) =>
        problem.key.startsWith(`${this.path}: hosts[${index}]`),
      );
      throw new ConfigError(
        this.path,
        problems.map((problem) => ({ path: problem.key, message: problem.message })),
      );
    }

    let host: HostSpec;
    if (existing !== undefined) {
      if (request.subnet !== undefined && request.subnet !== existing.subnet) {
        throw new JoinConflictError(
          `host ${request.name} already owns subnet ${existing.subnet}, not ${request.subnet}: remove the host first to change its subnet`,
        );
      }
      if (existing.underlayIp === request.underlayIp) {
        return { name: existing.name, underlayIp: existing.underlayIp, subnet: existing.subnet };
      }
      host = { name: existing.name, underlayIp: request.underlayIp, subnet: existing.subnet };
      file.document.setIn(["hosts", index, "underlayIp"], request.underlayIp);
    } else {
      host = {
        name: request.name,
        underlayIp: request.underlayIp,
        subnet: this.chooseSubnet(view, file, request),
      };
      appendHost(file, host);
    }

    // The new entry must pass the same checks as every other: valid fields, and a name,
    // underlay IP and subnet that no other entry uses.
    const settings = view.settings;
    parseHost(host, settings, "join request");
    const after = clusterView(file.document.toJS(), this.path);
    const added = after.problems.filter(
      (problem) => !view.problems.some((before) => before.key === problem.key),
    );
    if (added.length > 0) {
      throw new ConfigError(
        "join request",
        added.map((problem) => ({ path: problem.key, message: problem.message })),
      );
    }

    await writeFileAtomic(this.path, file.document.toString());
    return host;
  }

  private chooseSubnet(view: ClusterView, file: ClusterDocument, request: JoinRequest): string {
    const { range, subnetLength } = view.settings;
    // Entries that failed validation still block their subnet: the file's author may
    // only have mistyped another field.
    const taken = rawHostEntries(file.value)
      .map((entry) => entry.subnet)
      .filter((subnet): subnet is string => typeof subnet === "string");

    if (request.subnet === undefined) {
      return allocateSubnet(range, subnetLength, taken);
    }
    const problem = checkSubnet(range, subnetLength, request.subnet, taken);
    if (problem !== undefined) {
      throw new JoinConflictError(`cannot join host ${request.name}: ${problem}`);
    }
    return request.subnet;
  }

  /** Does nothing: a cluster file records membership only, not liveness. */
  async heartbeat(_name: string): Promise<void> {}

  /** Removes the host's entry, valid or not, which frees its subnet. */
  async leave(name: string): Promise<void> {
    await withFileLock(
      this.lockPath,
      async () => {
        const file = await readClusterDocument(this.path);
        const index = rawHostEntries(file.value).findIndex((entry) => entry.name === name);
        if (index < 0) {
          throw new HostNotFoundError(name, this.path);
        }
        file.document.deleteIn(["hosts", index]);
        await writeFileAtomic(this.path, file.document.toString());
      },
      this.options.lock,
    );
  }

  async close(): Promise<void> {}
}

function appendHost(file: ClusterDocument, host: HostSpec): void {
  const hosts = file.document.get("hosts", true);
  // `hosts: []` is a flow sequence; entries added to it are written in block style instead.
  if (isSeq(hosts)) {
    hosts.flow = false;
  }
  file.document.addIn(["hosts"], {
    name: host.name,
    underlayIp: host.underlayIp,
    subnet: host.subnet,
  });
}
