/* Conversions between the encoding of etcd's JSON gateway (base64 bytes, int64 as strings) and values. */

/** One key and its value as etcd stores them. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  /** ID of the lease the key is attached to; "0" for none. */
  lease: string;
}

/** Encodes a key or value as base64, as the gateway expects for bytes fields. */
export function encode(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** Decodes a base64 bytes field; a missing field is the empty string. */
export function decode(base64: unknown): string {
  return typeof base64 === "string" ? Buffer.from(base64, "base64").toString("utf8") : "";
}

/**
 * Returns, in base64, the smallest key after every key that starts with `prefix`: the
 * prefix with its last byte below 0xff increased by one.
 */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let index = bytes.length - 1; index >= 0; index--) {
    const byte = bytes[index];
    if (byte !== undefined && byte < 0xff) {
      const end = Buffer.from(bytes.subarray(0, index + 1));
      end[index] = byte + 1;
      return end.toString("base64");
    }
  }
  // A prefix of only 0xff bytes: etcd reads "\0" as "to the end of the key space".
  return Buffer.from([0]).toString("base64");
}

/** Converts one key-value of a range or watch response. */
export function toKeyValue(value: unknown): KeyValue {
  const object = (typeof value === "object" && value !== null ? value : {}) as Record<
    string,
    unknown
  >;
  return {
    key: decode(object.key),
    value: decode(object.value),
    createRevision: Number(object.create_revision ?? 0),
    modRevision: Number(object.mod_revision ?? 0),
    lease: typeof object.lease === "string" ? object.lease : "0",
  };
}

/** Returns the store revision from a response header; 0 when it is missing. */
export function headerRevision(response: Record<string, unknown>): number {
  const header = response.header;
  if (typeof header !== "object" || header === null) {
    return 0;
  }
  return Number((header as Record<string, unknown>).revision ?? 0);
}
