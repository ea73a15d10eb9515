/** Fields of one log event; `event` names what happened (start, stop, reconcile, retry, error). */
export interface LogFields {
  event: string;
  [field: string]: unknown;
}

/** Writes structured events, one JSON object per line. */
export interface Logger {
  info(fields: LogFields): void;
  warn(fields: LogFields): void;
  error(fields: LogFields): void;
}

/** Returns a logger that writes JSON lines to a stream, each with the time, level and host. */
export function jsonLogger(host: string, stream: NodeJS.WritableStream = process.stderr): Logger {
  const write = (level: string, fields: LogFields) => {
    stream.write(`${JSON.stringify({ time: new Date().toISOString(), level, host, ...fields })}\n`);
  };
  return {
    info: (fields) => write("info", fields),
    warn: (fields) => write("warn", fields),
    error: (fields) => write("error", fields),
  };
}

/** Returns the message of a caught value, for a log field. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
