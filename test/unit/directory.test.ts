import assert from "node:assert/strict";
import { mkdtemp, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DirectoryError, makeDirectory } from "../../src/host/directory.js";

async function withTemporary(action: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "omt-directory-"));
  try {
    await action(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("makeDirectory creates missing parents", () =>
  withTemporary(async (dir) => {
    const path = join(dir, "a", "b", "c");
    await makeDirectory(path, 0o700);
    const info = await stat(path);
    assert.equal(info.isDirectory(), true);
    assert.equal(info.mode & 0o777, 0o700);
  }));

test("makeDirectory accepts an existing directory", () =>
  withTemporary(async (dir) => {
    await makeDirectory(dir);
    await makeDirectory(join(dir, "x"));
    await makeDirectory(join(dir, "x"));
    assert.equal((await stat(join(dir, "x"))).isDirectory(), true);
  }));

// Each case must end quickly: Node 20.20's recursive mkdir never returns under /proc.
const failures: [string, (dir: string) => Promise<string>, string][] = [
  ["under /proc", async () => "/proc/omt-directory-test/x", "ENOENT"],
  [
    "under a regular file",
    async (dir) => {
      await writeFile(join(dir, "file"), "");
      return join(dir, "file", "x");
    },
    "ENOTDIR",
  ],
  [
    "under a dangling symbolic link",
    async (dir) => {
      await symlink(join(dir, "missing"), join(dir, "link"));
      return join(dir, "link", "x");
    },
    "ENOTDIR",
  ],
];

for (const [label, makePath, code] of failures) {
  test(`makeDirectory fails ${label}`, () =>
    withTemporary(async (dir) => {
      const path = await makePath(dir);
      const started = Date.now();
      await assert.rejects(makeDirectory(path), (error: unknown) => {
        assert.ok(error instanceof DirectoryError);
        assert.equal(error.path, path);
        assert.equal(error.code, code);
        assert.match(error.message, new RegExp(`cannot create directory ${path} \\(${code}\\)`));
        return true;
      });
      assert.ok(Date.now() - started < 1000, "makeDirectory took a second or more");
    }));
}
