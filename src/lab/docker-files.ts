import { constants } from "node:fs";
import { access, open, readFile, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";

/** Milliseconds between the checks of {@link waitUntil}. */
export const POLL_MS = 100;

/** Returns a member of a parsed JSON object; undefined for anything else. */
export function field(value: unknown, key: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return undefined;
  }
  return (value as Record<string, unknown>)[key];
}

/** Polls `condition` until it returns true or `timeoutMs` passes; the caller checks which. */
export async function waitUntil(
  condition: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() >= deadline) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Reads a pidfile; undefined when it is missing or contains no process id. */
export async function readPid(path: string): Promise<number | undefined> {
  const text = (await readOptional(path))?.trim();
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** Reads a text file; undefined when it does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  const buffer = await readOptionalBuffer(path);
  return buffer?.toString("utf8");
}

export async function readOptionalBuffer(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    // ESRCH: a /proc entry of a process that exited while it was read.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") {
      return undefined;
    }
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return false;
    }
    throw error;
  }
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return 0;
    }
    throw error;
  }
}

/** Returns the last 20 lines written to a log file after `offset`. */
export async function logTail(path: string, offset: number): Promise<string> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const length = Math.max(0, size - offset);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer.toString("utf8").trimEnd().split("\n").slice(-20).join("\n");
  } finally {
    await handle.close();
  }
}

/** Finds a program in PATH, because start-stop-daemon needs an absolute path. */
export async function findProgram(name: string): Promise<string> {
  for (const directory of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(directory, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EACCES" && code !== "ENOTDIR") {
        throw error;
      }
    }
  }
  throw new Error(`${name} not found in PATH`);
}
