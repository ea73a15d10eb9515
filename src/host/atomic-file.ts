import { randomUUID } from "node:crypto";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Replaces the file at `path` with `text`, so that readers see the old or the new contents
 * and never a part. The text goes to a temporary file in the same directory, which is
 * flushed to disk and renamed over `path`. Then the directory is flushed too. The file gets
 * `mode`, or keeps its permission bits when `mode` is absent (0o644 for a new file).
 */
export async function writeFileAtomic(path: string, text: string, mode?: number): Promise<void> {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.tmp-${process.pid}-${randomUUID()}`);
  const bits = mode ?? (await fileMode(path));

  try {
    const handle = await open(temporary, "wx", bits);
    try {
      await handle.writeFile(text, "utf8");
      // open() applies the umask to the mode, so the bits are set again here.
      await handle.chmod(bits);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }

  // Without this, a crash shortly after rename() can bring back the old directory entry.
  const directoryHandle = await open(directory, "r");
  try {
    await directoryHandle.sync();
  } finally {
    await directoryHandle.close();
  }
}

/** Returns the permission bits of a file, or 0o644 when it does not exist. */
export async function fileMode(path: string): Promise<number> {
  try {
    return (await stat(path)).mode & 0o7777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return 0o644;
    }
    throw error;
  }
}

/** Reads a UTF-8 file; undefined when it does not exist. Other errors are raised. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return undefined;
    }
    throw error;
  }
}
