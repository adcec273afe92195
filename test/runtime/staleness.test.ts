/**
 * A generated module that no longer matches its source: `StaleGeneratedModuleError` names the source file and says
 * which nodes differ, comparing the generated node table with the decorators.
 */
import { describe, expect, it } from 'vitest';
import { bindWorkflow, defineWorkflow, edge, fingerprintOf, graphShapeOf, node, retry, StaleGeneratedModuleError, Transition, unknownWorkItem, workflow, workflowMetaOf, type NodeSpec, type WorkflowCtx } from 'floxide';

@node()
class Parse {
  process(_ctx: WorkflowCtx, s: string): Transition<number> {
    return Transition.next(Number(s));
  }
}

@node()
class Print {
  process(_ctx: WorkflowCtx, n: number): Transition<string> {
    return Transition.next(String(n));
  }
}

// The source now: `show` was renamed `print`, and `parse` got a retry.
@workflow({ start: 'parse' })
class Flow {
  @retry({ maxAttempts: 2 }) @edge('print') parse = new Parse();
  print = new Print();
}

const spec = (name: string, successors: string[]): NodeSpec => ({ name, successors, fallbacks: [], branch: undefined, retry: undefined, timeoutMs: undefined, join: false, terminal: successors.length === 0, workflow: undefined });

/** What `floxide build` generated before the edit. */
const OldDef = defineWorkflow<Flow, { node: 'parse' | 'show'; id: string; input: never }, string, string, undefined>({
  name: 'Flow',
  fingerprint: '0123456789abcdef',
  source: 'src/flow.ts',
  workflowClass: Flow,
  contextClass: undefined,
  contextFields: {},
  start: 'parse',
  nodes: { parse: spec('parse', ['show']), show: spec('show', []) },
  processWorkItem: (_wf, item) => unknownWorkItem(item as never),
  isTerminal: (item) => item.node === 'show',
  dot: '',
  mermaid: '',
});

describe('StaleGeneratedModuleError', () => {
  it('names the source file and the nodes that changed', () => {
    expect(() => bindWorkflow(OldDef, new Flow())).toThrow(StaleGeneratedModuleError);
    expect(() => bindWorkflow(OldDef, new Flow())).toThrow(
      'the generated module of Flow (generated from src/flow.ts) is stale: node parse: edges, retry changed; node print is not in the generated module; node show is no longer in the source\'s graph; run floxide build',
    );
  });

  it('says the graph changed when no node differs (only the fingerprint)', () => {
    const nodes = { parse: { ...spec('parse', ['print']), retry: { maxAttempts: 2, backoff: 'exponential', initialDelayMs: 100, maxDelayMs: 30000, jitterMs: 0, retryOn: null } }, print: spec('print', []) } as const;
    const def = { ...OldDef, nodes } as unknown as typeof OldDef;
    expect(() => bindWorkflow(def, new Flow())).toThrow(/^the generated module of Flow \(generated from src\/flow\.ts\) is stale: its graph changed \(fingerprint 0123456789abcdef, source [0-9a-f]{16}\); run floxide build$/);
  });

  it('names the workflow class when the definition is missing (a generated module that does not export it yet)', () => {
    expect(() => bindWorkflow(undefined as unknown as typeof OldDef, new Flow())).toThrow(
      'bindWorkflow got no generated definition for Flow (undefined): its generated module does not export it; run floxide build',
    );
  });

  it('does not take a class a bundler renamed for a stale module (esbuild: `let Flow = class Flow2`; a minifier: `class a`)', () => {
    // What the source is, and what floxide build generated from it (the fingerprint of the class as written).
    @workflow({ start: 'parse' })
    class Pair {
      @edge('print') parse = new Parse();
      print = new Print();
    }
    const def = defineWorkflow<Pair, { node: 'parse' | 'print'; id: string; input: never }, string, string, undefined>({
      name: 'Pair',
      fingerprint: fingerprintOf(graphShapeOf(workflowMetaOf(Pair)!)),
      source: 'src/pair.ts',
      workflowClass: Pair,
      contextClass: undefined,
      contextFields: {},
      start: 'parse',
      nodes: { parse: spec('parse', ['print']), print: spec('print', []) },
      processWorkItem: (_wf, item) => unknownWorkItem(item as never),
      isTerminal: (item) => item.node === 'print',
      dot: '',
      mermaid: '',
    });
    // The same class as a bundle has it: decorated under another name (the decorators, as TypeScript compiles them).
    class Pair2 {
      parse = new Parse();
      print = new Print();
    }
    edge('print')(Pair2.prototype, 'parse');
    workflow({ start: 'parse' })(Pair2);
    expect(workflowMetaOf(Pair2)!.name).toBe('Pair2');
    const bundled = { ...def, workflowClass: Pair2 } as unknown as typeof def;
    expect(() => bindWorkflow(bundled, new Pair2() as Pair)).not.toThrow();
    expect(() => bindWorkflow(def, new Pair())).not.toThrow();
  });
});
