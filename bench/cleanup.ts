/**
 * Undo actions of a benchmark run, run in reverse order of registration: on success, on
 * failure, and on SIGINT or SIGTERM, so that a run leaves no namespace, process or file behind.
 */

type UndoAction = { description: string; action: () => Promise<void> };

const actions: UndoAction[] = [];
let signalsInstalled = false;
let signalReceived = false;

/** Whether SIGINT or SIGTERM has started the cleanup, so that later failures are expected. */
export function interrupted(): boolean {
  return signalReceived;
}

/** Registers an undo action and returns a function that runs it now and unregisters it. */
export function onCleanup(description: string, action: () => Promise<void>): () => Promise<void> {
  installSignalHandlers();
  const entry: UndoAction = { description, action };
  actions.push(entry);
  return async () => {
    const index = actions.indexOf(entry);
    if (index >= 0) {
      actions.splice(index, 1);
      await entry.action();
    }
  };
}

/**
 * Runs every registered action, newest first. A failed action does not stop the others, and
 * their errors are returned so that the caller can report them.
 */
export async function runCleanup(): Promise<Error[]> {
  const errors: Error[] = [];
  while (actions.length > 0) {
    const entry = actions.pop();
    if (entry === undefined) {
      break;
    }
    try {
      await entry.action();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      errors.push(new Error(`cleanup of ${entry.description} failed: ${reason}`));
    }
  }
  return errors;
}

function installSignalHandlers(): void {
  if (signalsInstalled) {
    return;
  }
  signalsInstalled = true;
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    process.once(name, () => {
      signalReceived = true;
      process.stderr.write(`bench: ${name} received, removing what the run created\n`);
      void runCleanup().then((errors) => {
        for (const error of errors) {
          process.stderr.write(`bench: ${error.message}\n`);
        }
        process.exit(130);
      });
    });
  }
}
