/**
 * A command-line option whose value is JSON (`runs signal --data`, `schedule add --input`): read as a stored value is
 * (tags revived). What is not JSON is an {@link InvalidArgumentError} that says how to write it: in a shell, JSON
 * without its double quotes (`--data {approved:true}`, or `'{approved:true}'`) is the usual mistake.
 */
import { InvalidArgumentError } from '../runtime/core/errors.js';
import { safeJsonParse } from '../runtime/core/json.js';

/** The value of option `flag` given as `text`; `example` is a valid value of it, shown when `text` is not JSON. */
export function parseJsonOption(text: string, flag: string, example: string): unknown {
  try {
    return safeJsonParse(text, flag);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}: give ${flag} JSON, in single quotes for the shell, with its keys and strings in double quotes, e.g. ${flag} '${example}'`, { cause: err });
  }
}
