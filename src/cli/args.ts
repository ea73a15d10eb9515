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
      throw new UsageError(describeParseError(error, args));
    }
    throw error;
  }
}

/** Rewrites node's parseArgs errors into one short sentence that names the option. */
function describeParseError(error: TypeError, args: string[]): string {
  const code = (error as TypeError & { code?: string }).code;
  const option = /'(-{1,2}[^' ]+)/.exec(error.message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const index = args.indexOf(option);
      const next = index >= 0 ? args[index + 1] : undefined;
      if (next !== undefined && next.startsWith("-")) {
        return `${option} needs a value, found ${JSON.stringify(next)}; write ${option}=${next} if that is the value`;
      }
      return `${option} needs a value`;
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${JSON.stringify(/'([^']*)'/.exec(error.message)?.[1] ?? "")}`;
    default:
      return error.message;
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
