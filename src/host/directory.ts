import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/** A directory that could not be created: its path and the system error code. */
export class DirectoryError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`cannot create directory ${path} (${code}): check the path or create the directory`);
    this.name = "DirectoryError";
  }
}

/**
 * Creates a directory and its missing parents, as `mkdir -p` does, and raises a
 * {@link DirectoryError} when that fails.
 *
 * With Node 20.20, `mkdir(path, { recursive: true })` never returns for a path under /proc,
 * where mkdir fails with ENOENT although the parent exists: it keeps creating the parent and
 * retrying. So this creates one path component at a time and stops at the first failure.
 */
export async function makeDirectory(path: string, mode = 0o755): Promise<void> {
  const target = resolve(path);
  if (await isDirectory(target)) {
    return;
  }

  const missing: string[] = [];
  for (let current = target; current !== dirname(current); current = dirname(current)) {
    missing.unshift(current);
  }
  for (const directory of missing) {
    try {
      await mkdir(directory, { mode });
    } catch (error) {
      const code = errorCode(error);
      if (code !== "EEXIST") {
        throw new DirectoryError(target, code);
      }
      // EEXIST also comes for a file or a dangling symbolic link.
      if (!(await isDirectory(directory))) {
        throw new DirectoryError(target, "ENOTDIR");
      }
    }
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    const code = errorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") {
      return false;
    }
    throw new DirectoryError(path, code);
  }
}

function errorCode(error: unknown): string {
  if (error instanceof Error && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  throw error;
}
