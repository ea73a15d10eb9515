import { spawn } from "node:child_process";

/** Options for {@link run}. */
export interface RunOptions {
  /** Text written to the program's standard input. */
  input?: string;
  /** Milliseconds before the program is killed with SIGKILL; 30 s when absent. */
  timeoutMs?: number;
  /** Extra environment variables, added to this process's environment. */
  env?: Record<string, string>;
  /** Exit codes that count as success; `[0]` when absent. */
  okCodes?: number[];
  /**
   * "inherit" connects the program to this process's standard input, output and error, for
   * interactive use; the result's stdout and stderr are then empty. "pipe" when absent.
   */
  stdio?: "pipe" | "inherit";
}

/** Output of a program that exited with an accepted code. */
export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** A program that could not be started, timed out or exited with an unexpected code. */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
    reason: string,
  ) {
    super(`${argv.join(" ")}: ${reason}${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
    this.name = "CommandError";
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Runs a program with an argv array (never through a shell) and collects its output.
 * Rejects with {@link CommandError} carrying argv, exit code and stderr.
 */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) {
    return Promise.reject(new TypeError("run() needs a program name in argv[0]"));
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const okCodes = options.okCodes ?? [0];

  const inherit = options.stdio === "inherit";

  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ? { ...process.env, ...options.env } : process.env,
      stdio: inherit ? "inherit" : ["pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);

    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, "", `could not start: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const out = Buffer.concat(stdout).toString("utf8");
      const err = Buffer.concat(stderr).toString("utf8");
      if (timedOut) {
        reject(new CommandError(argv, code, err, `timed out after ${timeoutMs} ms`));
      } else if (code === null) {
        reject(new CommandError(argv, null, err, `killed by ${signal ?? "a signal"}`));
      } else if (!okCodes.includes(code)) {
        reject(new CommandError(argv, code, err, `exited with code ${code}`));
      } else {
        resolve({ stdout: out, stderr: err, code });
      }
    });

    // A program that exits without reading its input makes the write fail with EPIPE;
    // its exit code is what matters, so the stream error is handled here.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input ?? "");
  });
}

/** A long-running program started by {@link runLines}. */
export interface LineProgram {
  /** Process id of the program. */
  pid: number | undefined;
  /**
   * Settles when the program has exited: resolves when {@link stop} ended it, rejects with
   * a {@link CommandError} when it exited, failed to start or died on its own.
   */
  exited: Promise<void>;
  /** Ends the program with SIGTERM and waits until it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts a program that runs until stopped, such as `ip monitor`, and calls `onLine` with
 * each line that it writes to stdout. Like {@link run}, it takes an argv array and no shell.
 */
export function runLines(argv: readonly string[], onLine: (line: string) => void): LineProgram {
  const [file, ...args] = argv;
  if (file === undefined) {
    throw new TypeError("runLines() needs a program name in argv[0]");
  }
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stopping = false;
  let partial = "";
  const stderr: Buffer[] = [];

  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      onLine(line);
    }
  });
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));

  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", (error) => {
      reject(new CommandError(argv, null, "", `could not start: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      const err = Buffer.concat(stderr).toString("utf8");
      if (stopping) {
        resolve();
      } else if (code === null) {
        reject(new CommandError(argv, null, err, `killed by ${signal ?? "a signal"}`));
      } else {
        reject(new CommandError(argv, code, err, `exited with code ${code}`));
      }
    });
  });
  return {
    pid: child.pid,
    exited,
    stop: async () => {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
      }
      await exited.catch((error: unknown) => {
        // The program failed before stop(); that failure was reported through `exited`.
        if (!(error instanceof CommandError)) {
          throw error;
        }
      });
    },
  };
}
