/**
 * The step rules in the local modes (run, runWithCheckpoint and resume on memory and SQLite stores): nested fan-outs
 * whose branches hold, and malformed node returns. The distributed backends run the same cases in the conformance
 * suite (test/distributed/conformance.ts), the checkpoint stores in their contract.
 */
import { describe, expect, it } from 'vitest';
import { HELD_GROUP_NODE, InvalidArgumentError, MemoryCheckpointStore, NodeFailedError, NoTerminalReachedError, bindWorkflow, noTerminalError, planCommit, type AnyWorkflowDef, type WorkflowEvent } from 'floxide';
import { canonicalJson } from '../../runtime/core/json.js';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { MalformedFallbackWorkflow, MalformedWorkflow, NestedHoldsWorkflow, StepsCtx, Thrown } from '../fixtures/rules/flows.js';
import { MalformedFallbackWorkflowDef, MalformedWorkflowDef, NestedHoldsWorkflowDef } from '../fixtures/rules/flows.floxide.js';
import { GOOD, MALFORMED_CASES, NESTED_CASES } from '../fixtures/rules/cases.js';

const nested = () => bindWorkflow(NestedHoldsWorkflowDef, new NestedHoldsWorkflow());

describe('nested fan-outs with holds, in run', () => {
  for (const c of NESTED_CASES) {
    it(c.name, async () => {
      const run = nested().run(new StepsCtx(), c.input);
      if (c.output === undefined) await expect(run).rejects.toThrow(noTerminalError('run', HELD_GROUP_NODE));
      else expect(await run).toBe(c.output);
    });
  }

  it('a group of holds settles as one step with a hold transition; a group with values runs its join under the settlement id', async () => {
    const events: WorkflowEvent[] = [];
    await nested().run(new StepsCtx(), [[1, 2], [-1, -2]], { onEvent: (e) => events.push(e) });
    const steps = events.flatMap((e) => (e.type === 'step.finished' && e.local ? [`${e.node}:${e.itemId}:${e.local.transition}`] : []));
    expect(steps.filter((s) => s.includes(':join'))).toEqual(expect.arrayContaining([expect.stringMatching(/^innerJoin:\d+:join:next$/), expect.stringMatching(/^#held:\d+:join:hold$/), 'outerJoin:0:join:next']));
  });
});

describe('nested fan-outs with holds, checkpointed and resumed', () => {
  const stores = { memory: () => new MemoryCheckpointStore(), sqlite: () => new SqliteCheckpointStore(':memory:') };
  for (const [kind, make] of Object.entries(stores)) {
    for (const c of NESTED_CASES) {
      it(`${kind}: ${c.name}`, async () => {
        const store = make();
        const run = nested().runWithCheckpoint(new StepsCtx(), c.input, store, 'r1');
        if (c.output === undefined) {
          await expect(run).rejects.toThrow(noTerminalError('r1', HELD_GROUP_NODE));
          expect(await store.getRun('r1')).toMatchObject({ status: 'failed', error: { name: 'NoTerminalReachedError' } });
        } else {
          expect(await run).toBe(c.output);
        }
        await store.close();
      });
    }

    it(`${kind}: resume after a crash in the middle of the nested groups settles each group once`, async () => {
      const store = make();
      const input = [[1, 2], [-1, -2], [3, 4]];
      // crash the run at the outer join's settlement: every other step is committed by then
      const wf = new NestedHoldsWorkflow();
      let crash = true;
      const gather = wf.outerJoin.process.bind(wf.outerJoin);
      wf.outerJoin.process = (ctx, values) => {
        if (crash) throw Object.assign(new Error('crash'), { name: 'CancelledError', code: 'FLOXIDE_CANCELLED' });
        return gather(ctx, values);
      };
      const bound = bindWorkflow(NestedHoldsWorkflowDef, wf);
      await expect(bound.runWithCheckpoint(new StepsCtx(), input, store, 'r2')).rejects.toBeInstanceOf(NodeFailedError);
      const cp = await store.load('r2');
      expect(cp!.items.map((i) => i.id)).toEqual(['0:join']);
      expect(cp!.items[0]).toMatchObject({ node: 'outerJoin', settle: [{ index: 0, value: 3 }, { index: 1, held: true }, { index: 2, value: 7 }] });
      crash = false;
      expect(await bound.resume(store, 'r2')).toBe('3,7');
      await store.close();
    });
  }
});

describe('malformed node returns', () => {
  const modes = {
    run: (wf: object, def: AnyWorkflowDef) => bindWorkflow(def, wf).run(new StepsCtx(), 1),
    runWithCheckpoint: (wf: object, def: AnyWorkflowDef) => bindWorkflow(def, wf).runWithCheckpoint(new StepsCtx(), 1, new SqliteCheckpointStore(':memory:'), 'r'),
  };
  for (const [mode, go] of Object.entries(modes)) {
    for (const c of MALFORMED_CASES) {
      it(`${mode}: ${c.name} fails the node with a NodeFailedError naming it and what it returned`, async () => {
        const err = await go(new MalformedWorkflow([c.returned]), MalformedWorkflowDef).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(NodeFailedError);
        expect((err as Error).message).toContain('node "emit" returned');
        expect((err as Error).message).toContain(c.shows);
        expect((err as Error).message).not.toContain('is not iterable');
      });
    }

    it(`${mode}: a malformed return is retried like a throw`, async () => {
      expect(await go(new MalformedWorkflow([{ type: 'bogus' }, GOOD]), MalformedWorkflowDef)).toBe('done ok');
    });

    it(`${mode}: a malformed return goes to the fallback like a throw`, async () => {
      expect(await go(new MalformedFallbackWorkflow([{ type: 'bogus' }]), MalformedFallbackWorkflowDef)).toBe('rescued 1: NodeFailedError');
    });

    it(`${mode}: a thrown value that is no Error reads the same in the fallback's ctx.failure as in the run's error`, async () => {
      const thrown = new Thrown({ code: 42, msg: 'obj' });
      const failed = await go(new MalformedWorkflow([thrown]), MalformedWorkflowDef).catch((e: unknown) => e);
      expect((failed as Error).message).toContain('{"code":42,"msg":"obj"}');
      const rescued = new MalformedFallbackWorkflow([thrown]);
      await go(rescued, MalformedFallbackWorkflowDef);
      expect(rescued.rescue.failures).toEqual([expect.objectContaining({ node: 'emit', name: 'Error', message: '{"code":42,"msg":"obj"}' })]);
    });
  }

  it('resume: a failed run whose node returned garbage fails again with the same typed error, and finishes once the node is fixed', async () => {
    const store = new MemoryCheckpointStore();
    const wf = new MalformedWorkflow([{ type: 'bogus' }]);
    await expect(bindWorkflow(MalformedWorkflowDef, wf).runWithCheckpoint(new StepsCtx(), 1, store, 'r')).rejects.toBeInstanceOf(NodeFailedError);
    const again = await bindWorkflow(MalformedWorkflowDef, new MalformedWorkflow([7])).resume(store, 'r').catch((e: unknown) => e);
    expect(again).toBeInstanceOf(NodeFailedError);
    expect((again as Error).message).toContain('node "emit" returned 7');
    expect(await bindWorkflow(MalformedWorkflowDef, new MalformedWorkflow([GOOD])).resume(store, 'r')).toBe('done ok');
  });
});

describe('the commit plan', () => {
  it('encodes the no-terminal error as the stored form of noTerminalError (canonical JSON), once for every store', () => {
    const plan = planCommit({ runId: 'r-1', itemId: '0', outcome: { type: 'continue', items: [], arrivals: [], delta: undefined } });
    const e = noTerminalError('r-1');
    expect(plan.type).toBe('continue');
    if (plan.type !== 'continue') return;
    expect(plan.noTerminal).toBe(canonicalJson({ code: e.code, message: e.message, name: e.name }));
    // with the consumed item's node (a worker's commit names it): a step that passed nothing on names it
    const named = planCommit({ runId: 'r-1', itemId: '0', node: 'explode', outcome: { type: 'continue', items: [], arrivals: [], delta: undefined } });
    const n = noTerminalError('r-1', 'explode');
    expect(n.message).toContain('the last step, of node explode, passed nothing on');
    expect(named.type === 'continue' && named.noTerminal).toBe(canonicalJson({ code: n.code, message: n.message, name: n.name }));
    const passed = planCommit({ runId: 'r-1', itemId: '0', node: 'explode', outcome: { type: 'continue', items: [{ node: 'x', id: '1', input: 1 }], arrivals: [], delta: undefined } });
    expect(passed.type === 'continue' && passed.noTerminal).toBe(plan.noTerminal);
  });

  it('refuses two arrivals of one group with different sizes, and reports the terminal step own items as dropped', () => {
    const a = (index: number, size: number) => ({ group: 'g', index, size, node: 'j', value: index, held: false, outer: [] });
    expect(() => planCommit({ runId: 'r', itemId: '0', outcome: { type: 'continue', items: [], arrivals: [a(0, 2), a(1, 3)], delta: undefined } })).toThrow(
      new InvalidArgumentError('join arrival for group g has size 3, the group has 2'),
    );
    const t = planCommit({ runId: 'r', itemId: '0', outcome: { type: 'terminal', output: 1, items: [{ node: 'n', id: 'x', input: 1 }], arrivals: [a(0, 2)], delta: {} } });
    expect(t).toMatchObject({ type: 'terminal', delta: undefined, output: '1', dropped: [{ id: 'x', node: 'n', reason: 'terminal' }, { id: 'g[0]', node: 'j', reason: 'terminal' }] });
  });
});
