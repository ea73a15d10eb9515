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
