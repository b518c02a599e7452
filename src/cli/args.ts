/**
 * Argument parsing helpers for the commands, around node:util parseArgs: every failure becomes a
 * UsageError that names the argument.
 */
import { UsageError } from './failure.js';

/**
 * Runs a node:util parseArgs call (strict, so unknown options are refused) and turns its failure
 * into a UsageError with parseArgs' first line, which names the argument.
 */
export function parsing<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    // parseArgs' messages go on with advice about '--'; the first sentence names the argument.
    const message = (err as Error).message.split('\n')[0] ?? String(err);
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    throw new UsageError(
      unknown ? `unknown option ${unknown[1]}` : (message.split(/(?<=\.) /)[0] ?? message),
    );
  }
}

/** Refuses more than `max` positional arguments. */
export function checkPositionals(positionals: readonly string[], max: number): void {
  if (positionals.length > max) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}`);
  }
}

/** A non-negative integer option (port, count, milliseconds), or a UsageError naming it. */
export function integerOption(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} ${JSON.stringify(value)} must be an integer from ${min} to ${max}`,
    );
  }
  return n;
}

/** Splits repeated `KEY=VALUE` options into pairs, or a UsageError naming the option. */
export function keyValues(name: string, values: readonly string[] | undefined): [string, string][] {
  return (values ?? []).map((v) => {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${name} ${JSON.stringify(v)} must look like KEY=VALUE`);
    return [v.slice(0, eq), v.slice(eq + 1)];
  });
}
