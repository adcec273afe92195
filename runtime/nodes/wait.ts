/** The {@link WaitFor} helper node: wait for a typed, named signal. */
import { node } from '../graph/decorators.js';
import type { Node, OutputOf, WorkflowCtx } from '../core/node.js';
import type { Transition } from '../core/transition.js';
import { InvalidArgumentError, InvalidSignalError, StaleGeneratedModuleError } from '../core/errors.js';
import type { AnyWorkflowDef, NodeSpec } from '../graph/definition.js';
import { assertSignalPayload } from '../core/signal-plan.js';

/** How a signal's payload is checked: a type guard, or a schema with `parse` (zod, valibot's wrappers...). */
export type PayloadCheck<P> = ((payload: unknown) => payload is P) | { parse(payload: unknown): P };

/**
 * What a sender may send to a wait whose check is `Ck` and whose node outputs `P`: the schema's input type when it
 * says (Standard Schema's `~standard.types.input`: zod 3.24+, valibot, ArkType; else zod's `_input`), otherwise `P`.
 * A schema that transforms, coerces or fills defaults takes another type than it gives.
 */
export type PayloadInputOf<Ck, P> = Ck extends { readonly '~standard': { readonly types?: infer T } }
  ? NonNullable<T> extends { readonly input: infer In }
    ? In
    : P
  : Ck extends { readonly _input: infer In }
    ? In
    : P;

/**
 * The payload a signal's sender gives for node type `N`: a `WaitFor`'s {@link PayloadInputOf}, another node's output.
 * What the generated signal maps are made of.
 */
export type SignalPayloadOf<N> = N extends WaitFor<string, infer P, any, infer Ck> ? PayloadInputOf<Ck, P> : OutputOf<N>;

/** Options of {@link WaitFor}. */
export interface WaitForOptions<P, Ck = PayloadCheck<P>> {
  /**
   * Checks a payload: when a typed sender sends it (a payload that fails is an `InvalidSignalError` and changes
   * nothing) and again when the wait takes it (what the node outputs is the check's result; a payload sent unchecked,
   * by `floxide runs signal` or the dashboard, that fails is refused: the signal is consumed and the wait waits on at
   * the same attempt and timeout, the refusal recorded as a `SignalRefusedError`). A sender sends
   * what the check takes: a schema's input type ({@link PayloadInputOf}), the node outputs what it gives.
   */
  readonly payload: Ck & PayloadCheck<P>;
  /** Without the signal after this long (ms from when the node started waiting), the node fails with `SignalTimeoutError`. */
  readonly timeoutMs?: number;
}

/**
 * Waits for signal `name` and sends its payload on as this node's output. The item parks in the store (no worker
 * slot, no lease); a signal sent before the wait begins is kept for it; each signal goes to one wait (the oldest),
 * so two branches waiting on one name each get their own. On timeout the node fails with `SignalTimeoutError`:
 * `@retry` waits again, `@edge.onFailure` takes the item. `floxide build` reads `name` and the payload type `P`
 * and generates the workflow's signal map, so sending an unknown name or a wrong payload does not compile.
 *
 * ```ts
 * // name, payload (the node's output), input (what the node before sends; a fallback receives it)
 * approval = new WaitFor<'approval', Decision, Expense>('approval', { payload: isDecision, timeoutMs: 24 * 3_600_000 });
 * ```
 *
 * @floxideNode (stands for `@node()` in the published .d.ts, which keeps no decorators)
 */
@node()
export class WaitFor<const N extends string, P, I = unknown, Ck = PayloadCheck<P>> implements Node<I, P> {
  /** Phantom: what a sender sends ({@link PayloadInputOf}). Always undefined. */
  declare readonly sent?: PayloadInputOf<Ck, P>;

  constructor(
    readonly signalName: N,
    readonly options: WaitForOptions<P, Ck>,
  ) {
    if (typeof signalName !== 'string' || signalName.length === 0) throw new InvalidArgumentError('WaitFor needs a non-empty signal name');
    const t = options?.timeoutMs;
    if (t !== undefined && !(typeof t === 'number' && Number.isFinite(t) && t >= 0)) throw new InvalidArgumentError(`WaitFor("${signalName}") timeoutMs must be a non-negative number of ms`);
    const p = options?.payload as unknown;
    if (typeof p !== 'function' && typeof (p as { parse?: unknown } | undefined)?.parse !== 'function') {
      throw new InvalidArgumentError(`WaitFor("${signalName}") needs options.payload: a type guard or a schema with parse()`);
    }
  }

  process(_ctx: WorkflowCtx, _input: I): Transition<P> {
    return { type: 'wait', name: this.signalName, timeoutMs: this.options.timeoutMs };
  }

  /** The payload to deliver, or `InvalidSignalError` when it fails the check. */
  check(payload: unknown): P {
    const c = this.options.payload;
    if (typeof c === 'function') {
      if (c(payload)) return payload;
      throw new InvalidSignalError(`the payload of signal "${this.signalName}" fails its check (${c.name || 'payload'}): ${preview(payload)}`);
    }
    try {
      return c.parse(payload);
    } catch (err) {
      throw new InvalidSignalError(`the payload of signal "${this.signalName}" fails its schema: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

/**
 * The `WaitFor` nodes of a workflow instance, by signal name: its own, and those of its nested workflows under
 * `<node>.<signal>` (qualified at every level: a nested workflow's waits park its outer item, which waits for that
 * name). Throws `StaleGeneratedModuleError` when they wait for other names than the generated definition's
 * `signals` (the module's signal types were generated from another version of the workflow: run floxide build).
 */
export function signalNodesOf(def: Pick<AnyWorkflowDef, 'name' | 'nodes' | 'signals' | 'source'>, instance: object): ReadonlyMap<string, readonly WaitFor<string, unknown>[]> {
  const out = new Map<string, WaitFor<string, unknown>[]>();
  collectWaits(def, instance, '', out);
  const generated = def.signals ?? [];
  const actual = [...out.keys()].sort();
  if (actual.length !== generated.length || actual.some((n, i) => n !== generated[i])) {
    const list = (names: readonly string[]) => (names.length === 0 ? 'none' : names.map((n) => JSON.stringify(n)).join(', '));
    throw new StaleGeneratedModuleError(
      `the generated module of ${def.name}${def.source ? ` (from ${def.source})` : ''} types the signals ${list(generated)}, but its WaitFor nodes wait for ${list(actual)}: run floxide build`,
    );
  }
  return out;
}

function collectWaits(def: Pick<AnyWorkflowDef, 'nodes'>, instance: object, prefix: string, out: Map<string, WaitFor<string, unknown>[]>): void {
  for (const name of Object.keys(def.nodes)) {
    const n = (instance as Record<string, unknown>)[name];
    if (n instanceof WaitFor) {
      const signal = prefix + n.signalName;
      const list = out.get(signal) ?? [];
      list.push(n as WaitFor<string, unknown>);
      out.set(signal, list);
      continue;
    }
    const inner = (def.nodes as Record<string, NodeSpec>)[name]?.workflow?.();
    if (inner !== undefined && n !== null && typeof n === 'object') collectWaits(inner, n, `${prefix}${name}.`, out);
  }
}

/**
 * Checks signal `name` before it is sent: every `WaitFor` node waiting on that name must accept the payload, and it
 * must be JSON data. Returns the payload as given (what the store keeps): the wait that takes it checks it again,
 * and its check's result (a schema's `parse` output) is the node's output. Throws {@link InvalidSignalError} for an
 * unknown name or a payload that fails.
 */
export function checkSignal(nodes: ReadonlyMap<string, readonly WaitFor<string, unknown>[]>, workflow: string, name: string, payload: unknown): unknown {
  const waits = typeof name === 'string' ? nodes.get(name) : undefined;
  if (!waits) throw unknownSignal(workflow, name, [...nodes.keys()]);
  for (const w of waits) w.check(payload);
  // what the wait would refuse as its output (a class instance, a function...), refused before it is sent, in every mode
  assertSignalPayload(name, payload);
  return payload;
}

/**
 * Checks a signal name against a generated definition alone (no instance, so no payload check): `InvalidSignalError`
 * when the workflow waits for no signal of that name.
 */
export function checkSignalName(def: Pick<AnyWorkflowDef, 'name' | 'signals'>, name: string): void {
  const known = def.signals ?? [];
  if (typeof name !== 'string' || !known.includes(name)) throw unknownSignal(def.name, name, known);
}

function unknownSignal(workflow: string, name: unknown, known: readonly string[]): InvalidSignalError {
  const list = known.map((n) => JSON.stringify(n)).join(', ');
  return new InvalidSignalError(`${workflow} has no signal ${JSON.stringify(name)}${list ? ` (its signals: ${list})` : ' (it waits for no signal)'}`);
}
