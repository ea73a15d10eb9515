/** Deterministic pseudo-random numbers (mulberry32), so that a failing input can be rebuilt. */
export class Random {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** Returns a float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Returns an integer in [0, limit). */
  below(limit: number): number {
    return Math.floor(this.next() * limit);
  }

  /** Returns one element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) {
      throw new RangeError("pick() needs a non-empty list");
    }
    return item;
  }
}

/**
 * Runs `body` with a fresh {@link Random} for each round until `budgetMs` has passed, with
 * seeds 1, 2, 3, ... so that the inputs are the same on every run. Returns the number of rounds.
 */
export function fuzz(budgetMs: number, body: (random: Random) => void): number {
  const deadline = Date.now() + budgetMs;
  let seed = 1;
  while (Date.now() < deadline) {
    body(new Random(seed));
    seed += 1;
  }
  return seed - 1;
}

/** Runs the async `body` as {@link fuzz} does, one round at a time. */
export async function fuzzAsync(
  budgetMs: number,
  body: (random: Random) => Promise<void>,
): Promise<number> {
  const deadline = Date.now() + budgetMs;
  let seed = 1;
  while (Date.now() < deadline) {
    await body(new Random(seed));
    seed += 1;
  }
  return seed - 1;
}

/** Values that JSON-handling code gets wrong: wrong types, empty and nested containers. */
const ODD_VALUES: unknown[] = [
  null,
  0,
  -1,
  1e308,
  "",
  "x",
  true,
  [],
  {},
  ["set"],
  ["map"],
  ["uuid"],
  ["set", "x"],
  ["map", [["k"]]],
  ["map", [[1, 2]]],
  ["uuid", 5],
  [null],
  [[[[]]]],
  { rows: "x" },
  { rows: [null] },
  { error: { error: 5 } },
];

/** Returns a copy of a JSON value with one randomly chosen node replaced or removed. */
export function mutateJson(random: Random, value: unknown): unknown {
  const copy: unknown = structuredClone(value);
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach((child: unknown, index) => {
        nodes.push({ parent: node, key: index });
        visit(child);
      });
    } else if (typeof node === "object" && node !== null) {
      for (const [key, child] of Object.entries(node)) {
        nodes.push({ parent: node as Record<string, unknown>, key });
        visit(child);
      }
    }
  };
  visit(copy);
  if (nodes.length === 0) {
    return random.pick(ODD_VALUES);
  }
  const { parent, key } = random.pick(nodes);
  const replacement = random.pick(ODD_VALUES);
  if (Array.isArray(parent) && typeof key === "number") {
    if (random.below(4) === 0) {
      parent.splice(key, 1);
    } else {
      parent[key] = replacement;
    }
  } else if (!Array.isArray(parent) && typeof key === "string") {
    if (random.below(4) === 0) {
      delete parent[key];
    } else {
      parent[key] = replacement;
    }
  }
  return copy;
}

/** Bytes that change the structure of JSON text. */
const JSON_BYTES = [...'{}[]",:\\ 0123456789-.etruefalsn', "\u0000", "\u00ff", "\ud83d"];

/** Returns JSON text with a few bytes inserted, removed or replaced. */
export function mutateText(random: Random, text: string): string {
  let result = text;
  const rounds = 1 + random.below(3);
  for (let round = 0; round < rounds; round += 1) {
    const at = random.below(result.length + 1);
    switch (random.below(3)) {
      case 0:
        result = result.slice(0, at) + random.pick(JSON_BYTES) + result.slice(at);
        break;
      case 1:
        result = result.slice(0, at) + result.slice(at + 1 + random.below(4));
        break;
      default:
        result = result.slice(0, at) + random.pick(JSON_BYTES) + result.slice(at + 1);
        break;
    }
  }
  return result;
}
