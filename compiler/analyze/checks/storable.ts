/**
 * FLX029 at each part of the context, of a node's input or of a terminal's output that storage does not carry
 * (`../storable.ts`): a checkpointed or distributed run would read it back as something else. Nested workflows are
 * checked as workflows of their own.
 */
import type { ts } from 'ts-morph';
import type { ResolvedWorkflow } from '../resolve.js';
import { unstorableParts } from '../storable.js';
import type { CheckContext } from './report.js';

export function checkStorable(w: ResolvedWorkflow, { checker: c, report }: CheckContext): void {
  const { raw, context, terminals } = w;
  const say = (at: ts.Node, root: string, whose: string, parts: ReturnType<typeof unstorableParts>) => {
    for (const p of parts) report('FLX029', at, `${root}${p.path} (${whose}) is ${p.what}, which a stored run (checkpointed or distributed) does not read back as such`);
  };
  if (context.kind === 'declared' || context.kind === 'inferred') say(raw.context?.node ?? raw.nameNode, context.text, `the context of ${raw.name}`, unstorableParts(context.type, c, { ownMethods: context.ref.kind !== 'class' }));
  for (const n of w.nodes.values()) {
    if (n.kind !== 'node') continue;
    const name = n.field.name;
    if (n.input) say(n.field.nameNode, 'input', `of node ${name}`, unstorableParts(n.input, c, { ownMethods: true }));
    if (terminals.includes(name)) for (const o of n.output?.types ?? []) say(n.field.nameNode, 'output', `of terminal node ${name}`, unstorableParts(o, c, { ownMethods: true }));
  }
}
