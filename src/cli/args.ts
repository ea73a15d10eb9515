import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./command.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a command's options strictly: an unknown option or a missing value is a
 * {@link UsageError} that names it.
 */
export function parseOptions<T extends Options>(
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    if (error instanceof TypeError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/** Returns the value of a required string option, or raises a {@link UsageError}. */
export function required(value: string | undefined, option: string): string {
  if (value === undefined || value === "") {
    throw new UsageError(`missing --${option}`);
  }
  return value;
}

/** Parses an integer option within bounds, or raises a {@link UsageError} naming it. */
export function integerOption(
  value: string | undefined,
  option: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) {
    return fallback;
  }
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw new UsageError(
      `invalid --${option} ${JSON.stringify(value)}: expected an integer from ${min} to ${max}`,
    );
  }
  return number;
}

/** Checks an option against a list of choices, or raises a {@link UsageError} naming it. */
export function choiceOption<T extends string>(
  value: string | undefined,
  option: string,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) {
    return fallback;
  }
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(
      `invalid --${option} ${JSON.stringify(value)}: expected one of ${choices.join(", ")}`,
    );
  }
  return value as T;
}
