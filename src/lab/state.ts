import { mkdir, open, readFile, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { LabError } from "./errors.js";
import { LAB_ROOT, checkLabName, labDirectory } from "./names.js";
import type { Lab, LabContainer, LabHost } from "./lab.js";

const STATE_FILE = "lab.json";

/** Path of a lab's `lab.json`. */
export function labStatePath(root: string, name: string): string {
  return join(labDirectory(root, name), STATE_FILE);
}

/**
 * Creates the state directory of a new lab. Creating the directory is the lock: it fails
 * when a lab of that name exists, even if two `lab up` run at once.
 */
export async function createLabDirectory(root: string, name: string): Promise<void> {
  assertLabName(name);
  await mkdir(root, { recursive: true, mode: 0o755 });
  try {
    await mkdir(labDirectory(root, name), { mode: 0o755 });
  } catch (error) {
    if (isErrno(error, "EEXIST")) {
      throw new LabError(
        `lab ${JSON.stringify(name)} exists already (${labDirectory(root, name)}): remove it with 'ovs-mesh lab down --name ${name}' or pick another --name`,
      );
    }
    throw error;
  }
}

/** Writes `lab.json` atomically: a reader sees the old or the new file, never a part. */
export async function writeLab(root: string, lab: Lab): Promise<void> {
  const path = labStatePath(root, lab.name);
  const temporary = `${path}.tmp`;
  const file = await open(temporary, "w", 0o644);
  try {
    await file.writeFile(`${JSON.stringify(lab, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}

/** Reads a lab's `lab.json`; undefined when the lab has none. */
export async function readLab(root: string, name: string): Promise<Lab | undefined> {
  assertLabName(name);
  const path = labStatePath(root, name);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) {
      return undefined;
    }
    throw error;
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new LabError(`invalid JSON in ${path}: ${String(error)}`);
  }
  const problem = findProblem(value);
  if (problem !== undefined) {
    throw new LabError(`invalid lab state in ${path}: ${problem}`);
  }
  return value as Lab;
}

/** Reads a lab that must exist. When it is missing, raises a {@link LabError} with the command that creates it. */
export async function loadLab(name: string, root: string = LAB_ROOT): Promise<Lab> {
  const lab = await readLab(root, name);
  if (lab === undefined) {
    throw new LabError(
      `no lab named ${JSON.stringify(name)}: ${labStatePath(root, name)} does not exist; create it with 'ovs-mesh lab up --name ${name}'`,
    );
  }
  return lab;
}

/** Returns the names of the labs that have a state directory. */
export async function listLabNames(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if (isErrno(error, "ENOENT")) {
      return [];
    }
    throw error;
  }
  return entries
    .filter((entry) => entry.isDirectory() && checkLabName(entry.name) === undefined)
    .map((entry) => entry.name)
    .sort();
}

/** Removes a lab's state directory with everything in it; does nothing when it is absent. */
export async function removeLabDirectory(root: string, name: string): Promise<void> {
  assertLabName(name);
  await rm(labDirectory(root, name), { recursive: true, force: true });
}

/** Raises a {@link LabError} for a name that could escape the state root, such as "..". */
function assertLabName(name: string): void {
  const problem = checkLabName(name);
  if (problem) {
    throw new LabError(problem);
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPid(value: unknown): boolean {
  return value === null || (typeof value === "number" && Number.isInteger(value) && value > 0);
}

const LAB_STRINGS = [
  "name",
  "createdAt",
  "tunnel",
  "mode",
  "underlayNetwork",
  "clusterRange",
  "clusterFile",
  "switchNamespace",
] as const;
const HOST_STRINGS = [
  "name",
  "namespace",
  "underlayIp",
  "subnet",
  "gateway",
  "runDirectory",
  "dbSocket",
  "dbFile",
] as const;
const CONTAINER_STRINGS = ["name", "namespace", "namespacePath", "ip"] as const;

/** Returns the first structural problem of a parsed `lab.json`, or undefined. */
function findProblem(value: unknown): string | undefined {
  if (!isRecord(value)) {
    return "expected an object";
  }
  if (value.version !== 1) {
    return `unsupported version ${JSON.stringify(value.version)}: expected 1`;
  }
  for (const key of LAB_STRINGS) {
    if (typeof value[key] !== "string") {
      return `${key}: expected a string`;
    }
  }
  for (const key of ["underlayMtu", "subnetLength"] as const) {
    if (typeof value[key] !== "number") {
      return `${key}: expected a number`;
    }
  }
  if (value.status !== "building" && value.status !== "ready") {
    return `status: expected "building" or "ready"`;
  }
  if (!Array.isArray(value.hosts)) {
    return "hosts: expected a list";
  }
  const shared = value.dockerSharedDirs;
  if (
    shared !== undefined &&
    (!Array.isArray(shared) || !shared.every((item) => typeof item === "string"))
  ) {
    return "dockerSharedDirs: expected a list of strings";
  }
  const next = value.nextHostIndex;
  if (next !== undefined && !(typeof next === "number" && Number.isInteger(next) && next >= 0)) {
    return "nextHostIndex: expected an integer of 0 or more";
  }
  const storeProblem = findStoreProblem(value.store);
  if (storeProblem !== undefined) {
    return `store: ${storeProblem}`;
  }
  for (const [index, host] of value.hosts.entries()) {
    const problem = findHostProblem(host);
    if (problem !== undefined) {
      return `hosts[${index}].${problem}`;
    }
  }
  return undefined;
}

function findHostProblem(host: unknown): string | undefined {
  if (!isRecord(host)) {
    return "expected an object";
  }
  for (const key of HOST_STRINGS satisfies readonly (keyof LabHost)[]) {
    if (typeof host[key] !== "string") {
      return `${key}: expected a string`;
    }
  }
  if (!isRecord(host.pids) || !isPid(host.pids.ovsdbServer) || !isPid(host.pids.ovsVswitchd)) {
    return "pids: expected ovsdbServer and ovsVswitchd, each a process id or null";
  }
  const agent = host.agent;
  if (
    agent !== undefined &&
    (!isRecord(agent) ||
      !isPid(agent.pid) ||
      !["metricsAddress", "pidFile", "logFile"].every((key) => typeof agent[key] === "string"))
  ) {
    return "agent: expected pid (a process id or null), metricsAddress, pidFile and logFile";
  }
  if (!Array.isArray(host.containers)) {
    return "containers: expected a list";
  }
  for (const [index, container] of host.containers.entries()) {
    if (!isRecord(container)) {
      return `containers[${index}]: expected an object`;
    }
    for (const key of CONTAINER_STRINGS satisfies readonly (keyof LabContainer)[]) {
      if (typeof container[key] !== "string") {
        return `containers[${index}].${key}: expected a string`;
      }
    }
    if (container.dockerId !== undefined && typeof container.dockerId !== "string") {
      return `containers[${index}].dockerId: expected a string`;
    }
  }
  const docker = host.docker;
  if (
    docker !== undefined &&
    (!isRecord(docker) || typeof docker.dir !== "string" || typeof docker.socket !== "string")
  ) {
    return "docker: expected dir and socket, each a string";
  }
  return undefined;
}

/** Returns the first problem of a lab's optional `store` record, or undefined. */
function findStoreProblem(store: unknown): string | undefined {
  if (store === undefined) {
    return undefined;
  }
  if (!isRecord(store) || (store.kind !== "file" && store.kind !== "etcd")) {
    return `expected an object with kind "file" or "etcd"`;
  }
  const endpoints = store.endpoints;
  if (!Array.isArray(endpoints) || !endpoints.every((item) => typeof item === "string")) {
    return "endpoints: expected a list of strings";
  }
  for (const key of ["namespace", "directory"]) {
    if (store[key] !== null && typeof store[key] !== "string") {
      return `${key}: expected a string or null`;
    }
  }
  return undefined;
}
