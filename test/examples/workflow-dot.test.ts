// workflow_dot.rs: the DOT of a graph with a linear path, fallbacks, branch arms and a join point.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { DotWorkflow } from '../../examples/workflow_dot.js';
import { DotWorkflowDef } from '../../examples/workflow_dot.floxide.js';

describe('workflow_dot example', () => {
  const wf = bindWorkflow(DotWorkflowDef, new DotWorkflow());

  it('prints the committed diagram: fallbacks dotted red, arms labelled, the join marked', () => {
    const dot = wf.toDot();
    expect(dot).toBe(readFileSync(new URL('../../docs/DotWorkflow.dot', import.meta.url), 'utf8'));
    expect(dot.split('\n').slice(0, 4)).toEqual([
      'digraph DotWorkflow {',
      '  rankdir=LR;',
      '  node [shape=box style=filled fontname="Helvetica" color=lightgray];',
      '  edge [fontname="Helvetica" arrowhead=vee];',
    ]);
    expect(dot).toContain('  taskA -> fallbackA [style="dotted" color="red" label="fallback"];\n');
    expect(dot).toContain('  taskB -> taskA [style="dotted" color="red" label="fallback"];\n');
    expect(dot).toContain('  taskB -> branchOne [label="branch"];\n  taskB -> branchTwo [label="branch2"];\n');
    expect(dot).toContain('  joinPoint [shape=diamond];\n');
    expect(wf.toMermaid()).toBe(readFileSync(new URL('../../docs/DotWorkflow.mmd', import.meta.url), 'utf8'));
  });

  it('also runs: 2 -> taskA 3 -> branch2 -> join [3] -> 3', async () => {
    await expect(wf.run(undefined, 2)).resolves.toBe(3);
  });
});
