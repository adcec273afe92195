/**
 * The comparison of one mode's observation with the case's expectation and with the reference mode's observation.
 * What is compared, and what is left out where a mode cannot know it or where scheduling decides it, is spelled out
 * in {@link comparable}.
 */
import { expect } from 'vitest';
import type { EquivalenceCase, ModeName } from './cases.js';
import type { Observation } from './modes.js';
import { normalize, normalizeOutput, sortedByText, type Normalized, type RunOutcome, type StepRecord } from './observe.js';

/**
 * `FLOXIDE_EQUIVALENCE_SHOW_KNOWN_BUGS=1` runs the known-bug cases as plain tests, to see how each fails today
 * (or that a fix made it pass).
 */
export const SHOW_KNOWN_BUGS = process.env.FLOXIDE_EQUIVALENCE_SHOW_KNOWN_BUGS === '1';

const isDistributed = (mode: ModeName) => mode.startsWith('distributed-');

/** Distributed workers of a non-serial case run parallel branches concurrently, in any order. */
const parallel = (c: EquivalenceCase, mode: ModeName) => isDistributed(mode) && !c.serial;

function contextView(context: Normalized, c: EquivalenceCase, mode: ModeName): Normalized {
  // A workflow without a context class: local modes keep `undefined` (stored as null), distributed mode seeds `{}`.
  // Both are "no context"; a node that wrote into the `{}` would still show.
  if (context !== null && typeof context === 'object' && !Array.isArray(context) && Object.keys(context).length === 0) return null;
  if (!parallel(c, mode) || context === null || typeof context !== 'object' || Array.isArray(context)) return context;
  const out: { [k: string]: Normalized } = { ...context };
  // Appends, event logs and union members land in commit order: compare them as multisets.
  for (const f of c.unordered ?? []) {
    const v = out[f];
    if (Array.isArray(v)) out[f] = sortedByText(v);
    else if (v !== null && typeof v === 'object' && Array.isArray((v as { $eventLog?: Normalized[] }).$eventLog)) {
      out[f] = { $eventLog: sortedByText((v as { $eventLog: Normalized[] }).$eventLog) };
    }
  }
  // lastWrite fields raced for by parallel branches: the case's own check says which values are allowed.
  for (const f of c.racy ?? []) delete out[f];
  return out;
}

type StepView = { -readonly [K in keyof StepRecord]?: StepRecord[K] };

function stepView(r: StepRecord, c: EquivalenceCase, mode: ModeName, refMode: ModeName): StepView {
  const { arrivals, delta, attempt, retries, ...rest } = r;
  const out: StepView = { ...rest };
  // Random failures: which attempt succeeds is chance, only the outcome is compared. A wait's timeout names the time
  // it waited until, which each run reads off its own clock.
  if (!c.randomFailures) Object.assign(out, { attempt, retries: retries.map((m) => m.replace(/ until \d{4}-\d\d-\d\dT[\d:.]+Z /, ' until <time> ')) });
  // `run` has no store: it reports no arrivals and no deltas.
  const stored = mode !== 'run' && refMode !== 'run';
  if (stored) out.arrivals = arrivals;
  // A delta is the step's change to the context it started from; with parallel branches writing max, min, union or
  // lastWrite fields, that context (and so the delta) depends on which branches committed first.
  if (stored && !(parallel(c, mode) && c.schedulingDeltas)) out.delta = delta;
  return out;
}

/**
 * What of an observation must be equal between `mode` and the reference: the result; the final context; the
 * committed steps as a multiset of (node, input, attempt, retries, outcome, produced items, arrivals, delta); the
 * nodes of the items dropped when the first terminal completed the run.
 */
export function comparable(o: Observation, c: EquivalenceCase, mode: ModeName, refMode: ModeName) {
  // `run` has no sender without the workflow's code: its typed handle refuses what the others send unchecked, so a
  // step that refused a signal has no twin there (the case's own check counts them)
  const steps = mode === 'run' || refMode === 'run' ? o.steps.filter((s) => s.refused === undefined) : o.steps;
  return {
    result: o.result,
    context: contextView(o.context, c, mode),
    steps: sortedByText(steps.map((s) => stepView(s, c, mode, refMode))),
    dropped: o.dropped,
  };
}

/** The expected outcome of a case, normalised like an observation (`cause: 'any'` matches any cause). */
function expectedOutcome(c: EquivalenceCase): RunOutcome {
  if ('output' in c.expect) return { status: 'completed', output: normalizeOutput(c.expect.output) };
  const { cause, ...failure } = c.expect.failure;
  return { status: 'failed', failure: cause === 'any' ? { ...failure, cause: expect.anything() } : c.expect.failure } as RunOutcome;
}

/** Checks `o` (observed in `mode`) against the case's expectation, its checks, and the reference observation. */
export function verify(c: EquivalenceCase, mode: ModeName, o: Observation, reference: Observation): void {
  const where = o.note === undefined ? mode : `${mode}, ${o.note}`;
  expect(o.result, `${c.name} in ${where}: the result`).toEqual(expectedOutcome(c));
  c.check?.(o);
  const got = comparable(o, c, mode, reference.mode);
  const want = comparable(reference, c, mode, reference.mode);
  expect(got.context, `${c.name}: the final context in ${where} vs ${reference.mode}`).toEqual(want.context);
  expect(got.steps, `${c.name}: the committed steps in ${where} vs ${reference.mode}`).toEqual(want.steps);
  // A failed local run keeps its pending items (it can be resumed); a failed distributed run drops them: only a
  // completed run's dropped items are comparable.
  // what each sender got for a signal, where the mode kept it (the crash mode's child sent them)
  if (o.answers !== undefined) {
    const answered = (c.signals ?? []).filter((s) => s.answer !== undefined).map((s) => (mode === 'run' && s.unchecked ? 'refused' : s.answer));
    expect(o.answers, `${c.name}: what the senders got in ${where}`).toEqual(answered);
  }
  if (o.result.status === 'completed') {
    expect(got.dropped, `${c.name}: the dropped items in ${where} vs ${reference.mode}`).toEqual(want.dropped);
  }
}
