/** Outcome of one check: "skip" when the facts it needs are not available. */
export type CheckOutcome = "ok" | "warn" | "fail" | "skip";

/** One finding of `ovs-mesh doctor`. */
export interface CheckResult {
  /** Stable identifier, such as "ip-forward". */
  id: string;
  result: CheckOutcome;
  /** The finding, with the values involved. */
  message: string;
  /** The action that removes the finding; empty when the result is ok. */
  fix: string;
}

/** Builds a passing result. */
export function ok(id: string, message: string): CheckResult {
  return { id, result: "ok", message, fix: "" };
}

/** Builds a warning: a finding that may break the overlay, or will under other settings. */
export function warn(id: string, message: string, fix: string): CheckResult {
  return { id, result: "warn", message, fix };
}

/** Builds a failure: a finding that breaks the overlay. */
export function fail(id: string, message: string, fix: string): CheckResult {
  return { id, result: "fail", message, fix };
}

/** Builds the result of a check that could not run, naming the missing fact. */
export function skip(id: string, message: string, fix = ""): CheckResult {
  return { id, result: "skip", message, fix };
}
