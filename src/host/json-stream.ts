/**
 * Incremental parser for JSON values sent back to back without framing, as OVSDB's JSON-RPC 1.0
 * does over a stream socket. Every top-level value must be an object or an array: a bare number
 * or literal has no closing byte, so its end cannot be
 * distinguished from a chunk boundary.
 */

/** Default cap on the bytes of one value: 64 MiB. */
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;
/** Default cap on the nesting of objects and arrays. */
export const DEFAULT_MAX_DEPTH = 1000;

/** Options for {@link JsonStreamParser}. */
export interface JsonStreamOptions {
  /** Largest value, in bytes, that may be buffered; {@link DEFAULT_MAX_VALUE_BYTES} when absent. */
  maxValueBytes?: number;
  /** Deepest nesting of objects and arrays; {@link DEFAULT_MAX_DEPTH} when absent. */
  maxDepth?: number;
}

/** Input that is not a stream of JSON objects and arrays, or a value over a size limit. */
export class JsonStreamError extends Error {
  constructor(
    message: string,
    /** Position in the whole stream, in bytes from its start, where the problem was found. */
    readonly offset: number,
  ) {
    super(message);
    this.name = "JsonStreamError";
  }
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Bytes allowed between strings inside a value: whitespace, punctuation, numbers, literals. */
const STRUCTURAL_BYTES = new Set(Buffer.from(" \t\r\n,:0123456789-+.eEtruefalsn", "latin1"));
const WHITESPACE_BYTES = new Set(Buffer.from(" \t\r\n", "latin1"));

/**
 * Splits a byte stream into JSON values. The scanner tracks only strings and nesting, so it
 * finds where each value ends, and `JSON.parse` then validates and builds the complete value.
 * Bytes are never decoded before a value is complete, so a UTF-8 character split across chunks
 * is handled. After an error the parser stays failed, because the stream position is lost.
 */
export class JsonStreamParser {
  readonly #maxValueBytes: number;
  readonly #maxDepth: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });

  /** Closing bytes expected for the open objects and arrays, innermost last. */
  #closers: number[] = [];
  #inString = false;
  #escaped = false;
  /** Bytes of the value in progress that arrived in earlier chunks. */
  #pieces: Buffer[] = [];
  #bufferedBytes = 0;
  /** Stream offset of the first byte of the next chunk. */
  #offset = 0;
  #failure: JsonStreamError | undefined;

  constructor(options: JsonStreamOptions = {}) {
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Bytes of an incomplete value held until more input arrives. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /**
   * Consumes the next chunk and returns the values it completes, in order.
   * Throws {@link JsonStreamError} on invalid input or a value over the size limit.
   */
  push(chunk: Uint8Array): unknown[] {
    if (this.#failure) {
      throw this.#failure;
    }
    try {
      return this.#scan(chunk);
    } catch (error) {
      if (error instanceof JsonStreamError) {
        this.#failure = error;
      }
      throw error;
    }
  }

  /** Throws {@link JsonStreamError} if the stream ended inside a value. */
  end(): void {
    if (this.#failure) {
      throw this.#failure;
    }
    if (this.#closers.length > 0) {
      this.#failure = new JsonStreamError(
        `JSON stream ended inside a value (${this.#bufferedBytes} bytes buffered)`,
        this.#offset,
      );
      throw this.#failure;
    }
  }

  #scan(chunk: Uint8Array): unknown[] {
    const values: unknown[] = [];
    // Start of the value in progress within this chunk; -1 between values.
    let start = this.#closers.length > 0 ? 0 : -1;

    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === undefined) {
        break;
      }

      if (this.#closers.length === 0) {
        if (WHITESPACE_BYTES.has(byte)) {
          continue;
        }
        if (byte !== OPEN_BRACE && byte !== OPEN_BRACKET) {
          throw this.#error(
            `expected '{' or '[' to start a JSON value, found ${describe(byte)}`,
            i,
          );
        }
        start = i;
        this.#open(byte, i);
        continue;
      }

      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false;
        } else if (byte === BACKSLASH) {
          this.#escaped = true;
        } else if (byte === QUOTE) {
          this.#inString = false;
        }
        continue;
      }

      if (byte === QUOTE) {
        this.#inString = true;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        this.#open(byte, i);
      } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        const expected = this.#closers.pop();
        if (byte !== expected) {
          throw this.#error(`unexpected ${describe(byte)}`, i);
        }
        if (this.#closers.length === 0) {
          values.push(this.#complete(chunk.subarray(start, i + 1), i));
          start = -1;
        }
      } else if (!STRUCTURAL_BYTES.has(byte)) {
        throw this.#error(`unexpected ${describe(byte)}`, i);
      }
    }

    if (start >= 0) {
      this.#hold(chunk.subarray(start), chunk.length);
    }
    this.#offset += chunk.length;
    return values;
  }

  #open(byte: number, index: number): void {
    if (this.#closers.length >= this.#maxDepth) {
      throw this.#error(`JSON value nested deeper than ${this.#maxDepth} levels`, index);
    }
    this.#closers.push(byte === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET);
  }

  /** Keeps the tail of a value that continues in the next chunk of `chunkLength` bytes. */
  #hold(piece: Uint8Array, chunkLength: number): void {
    this.#bufferedBytes += piece.length;
    if (this.#bufferedBytes > this.#maxValueBytes) {
      throw this.#error(`JSON value exceeds ${this.#maxValueBytes} bytes`, chunkLength - 1);
    }
    // Copied, because the caller may reuse the chunk's memory.
    this.#pieces.push(Buffer.from(piece));
  }

  /** Decodes and parses one complete value whose last byte is at `endIndex` of the chunk. */
  #complete(lastPiece: Uint8Array, endIndex: number): unknown {
    const size = this.#bufferedBytes + lastPiece.length;
    if (size > this.#maxValueBytes) {
      throw this.#error(`JSON value exceeds ${this.#maxValueBytes} bytes`, endIndex);
    }
    const bytes =
      this.#pieces.length === 0 ? lastPiece : Buffer.concat([...this.#pieces, lastPiece]);
    this.#pieces = [];
    this.#bufferedBytes = 0;

    let text: string;
    try {
      text = this.#decoder.decode(bytes);
    } catch {
      throw this.#error("invalid UTF-8 in the JSON value ending here", endIndex);
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw this.#error(`invalid JSON value ending here: ${reason}`, endIndex);
    }
  }

  #error(message: string, index: number): JsonStreamError {
    const offset = this.#offset + index;
    return new JsonStreamError(`${message} (stream byte ${offset})`, offset);
  }
}

function describe(byte: number): string {
  if (byte >= 0x20 && byte < 0x7f) {
    return `'${String.fromCharCode(byte)}'`;
  }
  return `byte 0x${byte.toString(16).padStart(2, "0")}`;
}
