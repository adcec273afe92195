/**
 * Reading the engine's data back from a store: every store (the SQLite checkpoint store, the memory, Redis and
 * Postgres backends) decodes a stored work item through {@link decodeStoredItem}, so a corrupt one is the same
 * {@link CorruptStateError}, naming the run, the item and what is wrong, wherever it is read; the SQLite, Redis and
 * Postgres stores read a run record's fields through {@link decodeStoredRun}.
 */
import { CorruptStateError, type SerializedError } from '../core/errors.js';
import { excerpt, safeJsonParse } from '../core/json.js';
import { isSerializedError } from '../core/validate.js';
import type { EngineItem } from './types.js';

/** Where a stored item was read: its run and, when the store keeps them beside the item, its id and node. */
export interface StoredItemRef {
  readonly runId: string;
  readonly itemId?: string;
  readonly node?: string;
}

function where(ref: StoredItemRef): string {
  return ref.itemId === undefined ? `run ${ref.runId}: a stored work item` : `run ${ref.runId} item ${JSON.stringify(ref.itemId)}: the stored work item`;
}

/**
 * Checks a parsed stored item: an object with a string `node` and `id` (the ones the store keeps beside it, when it
 * does) and, if present, `join` as an array. Throws {@link CorruptStateError}.
 */
export function checkStoredItem(value: unknown, ref: StoredItemRef): EngineItem {
  const fail = (what: string) => new CorruptStateError(`${where(ref)} ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(`is not an object: ${excerpt(value)}`);
  const it = value as EngineItem;
  if (typeof it.id !== 'string') throw fail(`has no string id: ${excerpt(value)}`);
  if (ref.itemId !== undefined && it.id !== ref.itemId) throw fail(`has id ${JSON.stringify(it.id)}, the store keeps it as ${JSON.stringify(ref.itemId)}`);
  if (typeof it.node !== 'string') throw fail(`names no node: ${excerpt(value)}`);
  if (ref.node !== undefined && it.node !== ref.node) throw fail(`names node ${JSON.stringify(it.node)}, the store keeps ${JSON.stringify(ref.node)}`);
  if (it.join !== undefined && !Array.isArray(it.join)) throw fail(`has fan-out frames that are not an array: ${excerpt(it.join)}`);
  return it;
}

/** Parses and checks a stored item's JSON text ({@link checkStoredItem}). Throws {@link CorruptStateError}. */
export function decodeStoredItem(text: unknown, ref: StoredItemRef): EngineItem {
  let value: unknown;
  try {
    value = safeJsonParse(text, where(ref));
  } catch (err) {
    throw new CorruptStateError(`${(err as Error).message}: ${excerpt(text)}`, { cause: err });
  }
  return checkStoredItem(value, ref);
}

/**
 * A stored run's fields as a store keeps them: text for `workflow` and `fingerprint`; JSON text (or, for a JSON
 * column, the parsed value) for `input`, `output`, `error` and `dropped`; epoch ms as numbers or numeric text for the
 * times; null for an absent value.
 */
export interface StoredRunFields {
  readonly workflow: unknown;
  readonly fingerprint: unknown;
  readonly status: unknown;
  readonly input: unknown;
  readonly output: unknown;
  readonly error: unknown;
  readonly dropped: unknown;
  readonly createdAt: unknown;
  readonly updatedAt: unknown;
  readonly finishedAt?: unknown;
  readonly deadline?: unknown;
  /** The version moves (`VersionMoves`, engine/migration.ts): null or absent in a run never moved, or stored by an older floxide. */
  readonly startedOn?: unknown;
  readonly migratedAt?: unknown;
}

/**
 * {@link StoredRunFields} read one by one ({@link decodeStoredRun}): a field that cannot be read holds no value
 * (`undefined`, `[]` for `dropped`, `NaN` for `createdAt` and `updatedAt`, `''` for `workflow` and `fingerprint`; an
 * unknown status is kept as its stored text) and `corrupt` names every such field.
 */
export interface DecodedRunFields<S extends string, D> {
  readonly workflow: string;
  readonly fingerprint: string;
  readonly status: S;
  readonly input: unknown;
  readonly output: unknown;
  readonly error: SerializedError | undefined;
  readonly dropped: readonly D[];
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | undefined;
  readonly deadline: number | undefined;
  readonly startedOn: string | undefined;
  readonly migratedAt: number | undefined;
  readonly corrupt?: CorruptStateError;
}

/** The largest epoch ms a `Date` holds. */
const MAX_TIME = 8.64e15;

/**
 * Decodes a stored run's fields without throwing: one corrupt field (malformed JSON, an error that is not `{ name,
 * message }`, dropped items that are not `{ id, node }` objects, a time that is no date, a status not in `statuses`,
 * a missing workflow name or graph fingerprint)
 * marks the record ({@link DecodedRunFields.corrupt}, naming the run and each field) and leaves the rest readable.
 * Every store reads run records through it, so inspection shows a run whatever one field holds.
 */
export function decodeStoredRun<S extends string, D = { readonly id: string; readonly node: string }>(
  runId: string,
  f: StoredRunFields,
  statuses: readonly S[],
): DecodedRunFields<S, D> {
  // (methods of one reader, not closures per field: lists read many records)
  const r = new RunFieldReader(runId);
  const status = statuses.includes(f.status as S) ? (f.status as S) : (r.problems.push(`run ${runId} has an unknown status ${excerpt(f.status)}`), String(f.status) as S);
  const decoded = {
    workflow: r.text('workflow name', f.workflow),
    fingerprint: r.text('graph fingerprint', f.fingerprint),
    status,
    input: r.json('input', f.input),
    output: r.json('output', f.output),
    error: r.error(f.error),
    dropped: r.dropped<D>(f.dropped),
    createdAt: r.time('creation time', f.createdAt, true) ?? NaN,
    updatedAt: r.time('update time', f.updatedAt, true) ?? NaN,
    finishedAt: r.time('finish time', f.finishedAt, false),
    deadline: r.time('deadline', f.deadline, false),
    startedOn: f.startedOn === null || f.startedOn === undefined || f.startedOn === '' ? undefined : r.text('first graph version', f.startedOn),
    migratedAt: r.time('migration time', f.migratedAt, false),
  };
  return r.problems.length === 0 ? decoded : { ...decoded, corrupt: new CorruptStateError(r.problems.join('; ')) };
}

/**
 * Reads the fields of one stored run record for {@link decodeStoredRun}: each method returns the field's value, or
 * none (undefined, `[]`) after adding what is wrong with it to `problems`. Errors other than a
 * {@link CorruptStateError} are thrown.
 */
class RunFieldReader {
  readonly problems: string[] = [];

  constructor(private readonly runId: string) {}

  private bad(what: string, value: unknown): CorruptStateError {
    return new CorruptStateError(`run ${this.runId} ${what}: ${excerpt(value)}`);
  }

  private noted(err: unknown): undefined {
    if (!(err instanceof CorruptStateError)) throw err;
    this.problems.push(err.message);
    return undefined;
  }

  private parse(what: string, v: unknown): unknown {
    return v === null || v === undefined ? undefined : safeJsonParse(v, `run ${this.runId} ${what}`);
  }

  json(what: string, v: unknown): unknown {
    try {
      return this.parse(what, v);
    } catch (err) {
      return this.noted(err);
    }
  }

  error(v: unknown): SerializedError | undefined {
    try {
      const e = this.parse('error', v);
      if (e === undefined) return undefined;
      if (!isSerializedError(e)) throw this.bad('error is not { name, message }', e);
      return e;
    } catch (err) {
      return this.noted(err);
    }
  }

  dropped<D>(v: unknown): D[] {
    try {
      const d = typeof v === 'string' ? safeJsonParse(v, `run ${this.runId} dropped items`) : v;
      if (d === null || d === undefined) return [];
      if (!Array.isArray(d) || !d.every(isDroppedItem)) throw this.bad('dropped items are not { id, node } objects', d);
      return d as D[];
    } catch (err) {
      this.noted(err);
      return [];
    }
  }

  /** A required text (a name, a fingerprint): `''` when it is missing or not text. */
  text(what: string, v: unknown): string {
    try {
      if (v === null || v === undefined || v === '') throw this.bad(`${what} is missing`, v);
      if (typeof v !== 'string') throw this.bad(`${what} is not text`, v);
      return v;
    } catch (err) {
      this.noted(err);
      return '';
    }
  }

  /** A time (epoch ms); `required`: a missing one is corrupt too. */
  time(what: string, v: unknown, required: boolean): number | undefined {
    try {
      if (v === null || v === undefined || v === '') {
        if (required) throw this.bad(`${what} is missing`, v);
        return undefined;
      }
      const n = typeof v === 'number' ? v : typeof v === 'string' || typeof v === 'bigint' ? Number(v) : NaN;
      if (!Number.isFinite(n) || Math.abs(n) > MAX_TIME) throw this.bad(`${what} is not a time`, v);
      return n;
    } catch (err) {
      return this.noted(err);
    }
  }
}

function isDroppedItem(x: unknown): boolean {
  return typeof x === 'object' && x !== null && typeof (x as { id?: unknown }).id === 'string' && typeof (x as { node?: unknown }).node === 'string';
}
