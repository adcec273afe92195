/**
 * Checks of the workflow's context (as `resolve.ts` settled it). A declared context class must be exported (FLX023)
 * and every node's context must accept it (FLX020 at each node that does not). An inferred one must have a name the
 * generated module can import, exported (FLX023). Nodes that need different contexts get FLX020 once, with a hint
 * that can be followed (and a fix when one of their context classes fits them all).
 */
import { ts } from 'ts-morph';
import { isExportedByName } from '../extract.js';
import { addContextFix } from '../fixes.js';
import { namedDeclaration, type NamedClass, type ResolvedNode, type ResolvedWorkflow } from '../resolve.js';
import type { CheckContext } from './report.js';

export function checkContext(w: ResolvedWorkflow, { checker: c, report, rootDir }: CheckContext): void {
  const { raw, context, start } = w;
  const wfName = raw.name;
  switch (context.kind) {
    case 'declared': {
      const { text, type } = context;
      if (!isExportedByName(context.decl)) report('FLX023', context.node, `context class ${text} is not exported by name, so the generated module cannot import it`, `write \`export class ${text}\``);
      for (const n of w.nodes.values()) {
        for (const need of n.contextNeeds) {
          if (!c.isTypeAssignableTo(type, need.type)) report('FLX020', n.field.nameNode, `${what(n)} needs context ${need.text}, but workflow ${wfName}'s context is ${text}`, `make ${text} assignable to ${need.text}`);
        }
      }
      return;
    }
    case 'conflict': {
      // No inference: name the context. One of the types the nodes need may already fit them all.
      const { distinct } = context;
      const fitsAll = distinct.find((d) => distinct.every((o) => c.isTypeAssignableTo(d.type, o.type)));
      const fitsClass = fitsAll && namedDeclaration(fitsAll.type);
      const call = ts.isCallExpression(raw.decorator.expression) ? raw.decorator.expression : undefined;
      const list = distinct.map((d) => `${d.node.field.name} needs ${d.text}`).join(', ');
      const message = `the nodes of workflow ${wfName} need different contexts (${list}), so its context cannot be inferred`;
      if (fitsClass && ts.isClassDeclaration(fitsClass)) {
        report('FLX020', distinct[1].node.field.nameNode, message, `declare the one every node accepts: @workflow({ start: '${start}', context: ${fitsAll!.text} })`, [call && addContextFix(call, fitsClass as NamedClass, c, rootDir)]);
      } else {
        const name = `${wfName}Context`;
        report('FLX020', distinct[1].node.field.nameNode, message, `declare a context class every node accepts and name it: \`export class ${name} implements ${distinct.map((d) => d.text).join(', ')} { ... }\` and @workflow({ start: '${start}', context: ${name} })`);
      }
      return;
    }
    case 'unnamed':
      report('FLX023', context.node.field.nameNode, `the context type ${context.text} that the nodes of ${wfName} declare has no name the generated module can import`, `declare it by name (\`export interface ${wfName}Context { ... }\`, a type alias or a class) and use that name in the nodes' WorkflowCtx<...>`);
      return;
    case 'inferred': {
      const { decl } = context;
      const keyword = ts.isClassDeclaration(decl) ? 'class' : ts.isInterfaceDeclaration(decl) ? 'interface' : 'type';
      if (!isExportedByName(decl)) report('FLX023', context.node.field.nameNode, `context ${keyword === 'type' ? 'type alias' : keyword} ${decl.name.text} (inferred from the nodes of ${wfName}) is not exported by name, so the generated module cannot import it`, `write \`export ${keyword} ${decl.name.text}\``);
      return;
    }
    case 'none':
      return;
  }
}

function what(n: ResolvedNode): string {
  return n.kind === 'workflow' ? `nested workflow ${n.field.name} (${n.cls.name.text})` : `node ${n.field.name} (${n.cls.name.text})`;
}
