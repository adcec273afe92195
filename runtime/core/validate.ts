/**
 * Argument checks shared by every store and backend (each rejects exactly the same input with the same
 * {@link InvalidArgumentError}).
 */
import { InvalidArgumentError, type SerializedError } from './errors.js';

export function assertPositiveInt(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got ${String(v)}`);
}

export function assertPositiveMs(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a positive number of milliseconds, got ${String(v)}`);
}

export function assertString(v: unknown, what: string): asserts v is string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string`);
}

/** True when `e` has the shape of a {@link SerializedError}: an object with a string `name` and `message`. */
export function isSerializedError(e: unknown): e is SerializedError {
  return typeof e === 'object' && e !== null && typeof (e as SerializedError).name === 'string' && typeof (e as SerializedError).message === 'string';
}

export function assertSerializedError(e: unknown, what: string): asserts e is SerializedError {
  if (!isSerializedError(e)) throw new InvalidArgumentError(`${what} must be a SerializedError ({ name, message })`);
}
