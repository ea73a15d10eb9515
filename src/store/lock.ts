import { randomUUID } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

/** Options for {@link withFileLock}. */
export interface LockOptions {
  /** Milliseconds to wait for a lock held by another process; 10 s when absent. */
  timeoutMs?: number;
  /**
   * Age in milliseconds after which a lock file is taken over even when its process may
   * still run; 60 s when absent. Writes under the lock take milliseconds.
   */
  staleMs?: number;
}

/** Contents of a lock file: who holds it. */
interface LockOwner {
  pid: number;
  host: string;
  createdAt: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_STALE_MS = 60_000;
const POLL_MS = 25;

/**
 * Runs `work` while holding an exclusive lock file at `lockPath`, created with O_EXCL.
 * A lock whose process no longer runs on this host, or that is older than `staleMs`,
 * is taken over. The lock is released when `work` settles.
 */
export async function withFileLock<T>(
  lockPath: string,
  work: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const content = await acquire(lockPath, options);
  try {
    return await work();
  } finally {
    await release(lockPath, content);
  }
}

async function acquire(lockPath: string, options: LockOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const owner: LockOwner = { pid: process.pid, host: hostname(), createdAt: Date.now() };
  const content = `${JSON.stringify(owner)}\n`;
  const deadline = Date.now() + timeoutMs;

  for (;;) {
    if (await tryCreate(lockPath, content)) {
      return content;
    }
    const observed = await readIfExists(lockPath);
    if (observed === undefined) {
      continue;
    }
    if (await isStale(lockPath, observed, staleMs)) {
      await removeStale(lockPath, observed);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for lock file ${lockPath} (${describeOwner(observed)}): if that process is gone, remove the lock file`,
      );
    }
    await sleep(POLL_MS + Math.random() * POLL_MS);
  }
}

async function tryCreate(lockPath: string, content: string): Promise<boolean> {
  try {
    const handle = await open(lockPath, "wx", 0o644);
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if (errorCode(error) === "EEXIST") {
      return false;
    }
    throw error;
  }
}

async function isStale(lockPath: string, observed: string, staleMs: number): Promise<boolean> {
  const owner = parseOwner(observed);
  if (owner !== undefined && owner.host === hostname() && !processExists(owner.pid)) {
    return true;
  }
  try {
    const info = await stat(lockPath);
    return Date.now() - info.mtimeMs > staleMs;
  } catch (error) {
    if (errorCode(error) === "ENOENT") {
      return false;
    }
    throw error;
  }
}

/**
 * Removes a stale lock without removing a fresh one that replaced it in the meantime: the
 * file is renamed aside first and compared with what was judged stale.
 */
async function removeStale(lockPath: string, observed: string): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${randomUUID()}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if (errorCode(error) === "ENOENT") {
      return;
    }
    throw error;
  }

  const moved = await readFile(aside, "utf8");
  if (moved !== observed) {
    // Another process took the lock between the read and the rename: put its lock back.
    // link() does not replace an existing file, so a lock created since then is kept.
    // NOTE: in that three-way race the process whose lock was moved aside loses the lock.
    try {
      await link(aside, lockPath);
    } catch (error) {
      if (errorCode(error) !== "EEXIST") {
        throw error;
      }
    }
  }
  await unlink(aside);
}

async function release(lockPath: string, content: string): Promise<void> {
  const current = await readIfExists(lockPath);
  // A lock taken over as stale belongs to another process now and must stay.
  if (current === content) {
    await unlink(lockPath);
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") {
      return undefined;
    }
    throw error;
  }
}

function parseOwner(content: string): LockOwner | undefined {
  try {
    const value: unknown = JSON.parse(content);
    if (typeof value !== "object" || value === null) {
      return undefined;
    }
    const { pid, host, createdAt } = value as Record<string, unknown>;
    if (typeof pid !== "number" || typeof host !== "string" || typeof createdAt !== "number") {
      return undefined;
    }
    return { pid, host, createdAt };
  } catch (error) {
    if (error instanceof SyntaxError) {
      return undefined;
    }
    throw error;
  }
}

function describeOwner(content: string): string {
  const owner = parseOwner(content);
  if (owner === undefined) {
    return "unreadable owner";
  }
  return `held by pid ${owner.pid} on ${owner.host} since ${new Date(owner.createdAt).toISOString()}`;
}

/** Returns whether a process with this pid exists. EPERM means it exists under another user. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if (errorCode(error) === "ESRCH") {
      return false;
    }
    if (errorCode(error) === "EPERM") {
      return true;
    }
    throw error;
  }
}

/** Returns the `code` of a Node.js system error, such as "ENOENT". */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}
