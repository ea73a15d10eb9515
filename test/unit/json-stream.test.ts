import { test } from "node:test";
import assert from "node:assert/strict";

import { JsonStreamError, JsonStreamParser } from "../../src/host/json-stream.js";

const bytes = (text: string): Buffer => Buffer.from(text, "utf8");

/** Feeds `chunks` to a new parser and returns every value; throws if the stream ends inside one. */
function parseChunks(chunks: Uint8Array[]): unknown[] {
  const parser = new JsonStreamParser();
  const values: unknown[] = [];
  for (const chunk of chunks) {
    values.push(...parser.push(chunk));
  }
  parser.end();
  return values;
}

/** Splits `data` into chunks of one byte each. */
function byteByByte(data: Buffer): Buffer[] {
  return [...data].map((byte) => Buffer.from([byte]));
}

test("JsonStreamParser parses one object in one chunk", () => {
  assert.deepEqual(parseChunks([bytes('{"id":1,"result":[]}')]), [{ id: 1, result: [] }]);
});

test("JsonStreamParser parses several values in one chunk", () => {
  const values = parseChunks([bytes('{"a":1}{"b":2}\n[3, 4]  \r\n\t{"c":{}}')]);
  assert.deepEqual(values, [{ a: 1 }, { b: 2 }, [3, 4], { c: {} }]);
});

test("JsonStreamParser parses a value split at every byte", () => {
  const text = '{"method":"update","params":["m",{"Bridge":{"x":{"new":{"n":-1.5e3}}}}],"id":null}';
  const expected = [JSON.parse(text)];

  for (let cut = 1; cut < text.length; cut++) {
    const data = bytes(text);
    const values = parseChunks([data.subarray(0, cut), data.subarray(cut)]);
    assert.deepEqual(values, expected, `split at byte ${cut}`);
  }
  assert.deepEqual(parseChunks(byteByByte(bytes(text))), expected);
});

test("JsonStreamParser ignores braces, quotes and escapes inside strings", () => {
  const value = { a: '}{][\\"', b: "\\", c: '"}', d: "\u0001\n\t\\u", e: ["]", "["] };
  const text = JSON.stringify(value) + JSON.stringify([value.a]);

  assert.deepEqual(parseChunks([bytes(text)]), [value, [value.a]]);
  assert.deepEqual(parseChunks(byteByByte(bytes(text))), [value, [value.a]]);
});

test("JsonStreamParser joins UTF-8 characters split across chunks", () => {
  const value = { name: "é€😀 Grüße 日本" };
  const values = parseChunks(byteByByte(bytes(JSON.stringify(value))));

  assert.deepEqual(values, [value]);
});

test("JsonStreamParser returns nothing until a value is complete", () => {
  const parser = new JsonStreamParser();

  assert.deepEqual(parser.push(bytes('{"a":')), []);
  assert.equal(parser.bufferedBytes, 5);
  assert.deepEqual(parser.push(bytes('1}{"b"')), [{ a: 1 }]);
  assert.equal(parser.bufferedBytes, 4);
  assert.deepEqual(parser.push(bytes(":2}")), [{ b: 2 }]);
  assert.equal(parser.bufferedBytes, 0);
});

/** Cases of invalid input: the stream, the expected message and the expected offset. */
const INVALID_CASES: { name: string; input: Buffer; message: RegExp; offset: number }[] = [
  {
    name: "a top-level number",
    input: bytes("42"),
    message: /^expected '\{' or '\[' to start a JSON value, found '4' \(stream byte 0\)$/,
    offset: 0,
  },
  {
    name: "a top-level string",
    input: bytes('{} "x"'),
    message: /^expected '\{' or '\[' to start a JSON value, found '"' \(stream byte 3\)$/,
    offset: 3,
  },
  {
    name: "text that is not JSON",
    input: bytes("HTTP/1.1 400 Bad Request\r\n"),
    message: /found 'H' \(stream byte 0\)$/,
    offset: 0,
  },
  {
    name: "a mismatched bracket",
    input: bytes('{"a":[1}'),
    message: /^unexpected '\}' \(stream byte 7\)$/,
    offset: 7,
  },
  {
    name: "a byte that no JSON value has outside strings",
    input: bytes('{"a":x}'),
    message: /^unexpected 'x' \(stream byte 5\)$/,
    offset: 5,
  },
  {
    name: "a control byte outside strings",
    input: Buffer.from([0x7b, 0x00, 0x7d]),
    message: /^unexpected byte 0x00 \(stream byte 1\)$/,
    offset: 1,
  },
  {
    name: "a value that JSON.parse rejects",
    input: bytes('{"a" 1}'),
    message: /^invalid JSON value ending here: .* \(stream byte 6\)$/,
    offset: 6,
  },
  {
    name: "invalid UTF-8 inside a string",
    input: Buffer.concat([bytes('{"a":"'), Buffer.from([0xff, 0xfe]), bytes('"}')]),
    message: /^invalid UTF-8 in the JSON value ending here \(stream byte 9\)$/,
    offset: 9,
  },
];

for (const { name, input, message, offset } of INVALID_CASES) {
  test(`JsonStreamParser rejects ${name}`, () => {
    const parser = new JsonStreamParser();
    assert.throws(
      () => parser.push(input),
      (error: unknown) => {
        assert.ok(error instanceof JsonStreamError);
        assert.match(error.message, message);
        assert.equal(error.offset, offset);
        return true;
      },
    );
  });
}

test("JsonStreamParser counts offsets across chunks", () => {
  const parser = new JsonStreamParser();
  parser.push(bytes('{"a":1} '));

  assert.throws(() => parser.push(bytes("  7")), {
    name: "JsonStreamError",
    message: "expected '{' or '[' to start a JSON value, found '7' (stream byte 10)",
  });
});

test("JsonStreamParser stays failed after an error", () => {
  const parser = new JsonStreamParser();
  assert.throws(() => parser.push(bytes("x")), JsonStreamError);

  assert.throws(() => parser.push(bytes("{}")), /found 'x' \(stream byte 0\)/);
  assert.throws(() => parser.end(), /found 'x' \(stream byte 0\)/);
});

test("JsonStreamParser rejects a value over the size limit across chunks", () => {
  const parser = new JsonStreamParser({ maxValueBytes: 16 });
  parser.push(bytes('{"a":"0123456'));

  assert.throws(() => parser.push(bytes("7890")), {
    name: "JsonStreamError",
    message: "JSON value exceeds 16 bytes (stream byte 16)",
  });
});

test("JsonStreamParser rejects a value over the size limit in one chunk", () => {
  const parser = new JsonStreamParser({ maxValueBytes: 16 });

  assert.deepEqual(parser.push(bytes('{"a":"01234567"}')), [{ a: "01234567" }]);
  assert.throws(() => parser.push(bytes('{"a":"012345678"}')), {
    name: "JsonStreamError",
    message: "JSON value exceeds 16 bytes (stream byte 32)",
  });
});

test("JsonStreamParser rejects nesting over the depth limit", () => {
  const parser = new JsonStreamParser({ maxDepth: 3 });

  assert.deepEqual(parser.push(bytes("[[[]]]")), [[[[]]]]);
  assert.throws(() => parser.push(bytes("[[[[]]]]")), {
    name: "JsonStreamError",
    message: "JSON value nested deeper than 3 levels (stream byte 9)",
  });
});

test("JsonStreamParser.end() rejects a stream cut inside a value", () => {
  const parser = new JsonStreamParser();
  parser.push(bytes('{"a":1}{"b":'));

  assert.throws(() => parser.end(), {
    name: "JsonStreamError",
    message: "JSON stream ended inside a value (5 bytes buffered)",
  });
});

test("JsonStreamParser.end() accepts trailing whitespace", () => {
  const parser = new JsonStreamParser();
  parser.push(bytes('{"a":1}\n  '));

  assert.doesNotThrow(() => parser.end());
});

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so that a failure can be rerun. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRING_PIECES = [
  "a",
  "{",
  "}",
  "[",
  "]",
  '"',
  "\\",
  ":",
  ",",
  "é",
  "€",
  "😀",
  "\n",
  " ",
  "\u0000",
];

function randomString(random: () => number): string {
  let text = "";
  const length = Math.floor(random() * 8);
  for (let i = 0; i < length; i++) {
    text += STRING_PIECES[Math.floor(random() * STRING_PIECES.length)] ?? "";
  }
  return text;
}

function randomValue(random: () => number, depth: number): unknown {
  const kind = Math.floor(random() * (depth > 3 ? 5 : 7));
  switch (kind) {
    case 0:
      return randomString(random);
    case 1:
      return Math.floor(random() * 2_000_001) - 1_000_000;
    case 2:
      return (random() - 0.5) * 1e10 || 1;
    case 3:
      return random() < 0.5;
    case 4:
      return null;
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      const size = Math.floor(random() * 4);
      for (let i = 0; i < size; i++) {
        object[randomString(random)] = randomValue(random, depth + 1);
      }
      return object;
    }
  }
}

/** Cuts `data` at random places into between one and `data.length` chunks. */
function randomChunks(random: () => number, data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let position = 0;
  while (position < data.length) {
    const size = 1 + Math.floor(random() * random() * 40);
    chunks.push(data.subarray(position, position + size));
    position += size;
  }
  return chunks;
}

const FUZZ_BUDGET_MS = 1000;

test("JsonStreamParser fuzz: random splits of valid streams", () => {
  const random = randomSource(20240611);
  const deadline = Date.now() + FUZZ_BUDGET_MS;
  let rounds = 0;

  while (Date.now() < deadline && rounds < 20_000) {
    const values = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
      random() < 0.5 ? [randomValue(random, 1)] : { key: randomValue(random, 1) },
    );
    const gaps = ["", " ", "\n", "\r\n\t "];
    const text = values
      .map((value) => JSON.stringify(value) + (gaps[Math.floor(random() * gaps.length)] ?? ""))
      .join("");

    const parsed = parseChunks(randomChunks(random, bytes(text)));
    assert.deepEqual(parsed, values, `round ${rounds}: ${text}`);
    rounds++;
  }
  assert.ok(rounds > 100, `only ${rounds} rounds ran`);
});

test("JsonStreamParser fuzz: random bytes", () => {
  const random = randomSource(7);
  const alphabet = bytes('{}[]":,\\ 0123456789-.etruefalsnx\n');
  const deadline = Date.now() + FUZZ_BUDGET_MS;
  let rounds = 0;
  let failures = 0;

  while (Date.now() < deadline && rounds < 50_000) {
    const length = Math.floor(random() * 64);
    const data = Buffer.alloc(length);
    for (let i = 0; i < length; i++) {
      // Half from JSON's own bytes, so that the scanner gets past the first byte.
      data[i] =
        random() < 0.5
          ? (alphabet[Math.floor(random() * alphabet.length)] ?? 0)
          : Math.floor(random() * 256);
    }

    const parser = new JsonStreamParser({ maxValueBytes: 48, maxDepth: 8 });
    try {
      for (const chunk of randomChunks(random, data)) {
        parser.push(chunk);
      }
      parser.end();
    } catch (error) {
      assert.ok(error instanceof JsonStreamError, `round ${rounds}: ${String(error)}`);
      failures++;
    }
    rounds++;
  }
  assert.ok(rounds > 100, `only ${rounds} rounds ran`);
  assert.ok(failures > 0, "no random input was rejected");
});

test("JsonStreamParser fuzz: corrupted valid streams", () => {
  const random = randomSource(99);
  const deadline = Date.now() + FUZZ_BUDGET_MS;
  let rounds = 0;

  while (Date.now() < deadline && rounds < 20_000) {
    const data = bytes(JSON.stringify({ value: randomValue(random, 1) }));
    const position = Math.floor(random() * data.length);
    data[position] = Math.floor(random() * 256);

    const parser = new JsonStreamParser();
    try {
      for (const chunk of randomChunks(random, data)) {
        parser.push(chunk);
      }
      parser.end();
    } catch (error) {
      assert.ok(error instanceof JsonStreamError, `round ${rounds}: ${String(error)}`);
    }
    rounds++;
  }
  assert.ok(rounds > 100, `only ${rounds} rounds ran`);
});
