/**
 * Checks of node classes (a usable `process`: FLX022) and of the workflow class and its fields: the class is exported by name (FLX023), each field that carries edge
 * decorators is a node (FLX021), a node field is public (FLX023), its `process` is usable where the field uses it
 * (FLX022), a nested workflow does not contain this one again (FLX027), and a `WaitFor` node names its signal with a
 * string literal (FLX028).
 */
import { isExportedByName } from '../extract.js';
import type { NamedClass, ResolvedWorkflow } from '../resolve.js';
import type { CheckContext, Report } from './report.js';

/** FLX022 at a `@node` class whose `process` cannot be called as a node's (`problem`, from `resolve.ts`, says why). */
export function checkNodeClass(cls: NamedClass, problem: string | null, report: Report): void {
  if (problem !== null) report('FLX022', cls.name, `node class ${cls.name.text} ${problem}`);
}

/** The workflow class and its fields. */
export function checkNodes(w: ResolvedWorkflow, { report }: CheckContext): void {
  const { raw, nodes, notNodes } = w;
  const wfName = raw.name;
  if (!isExportedByName(raw.decl)) report('FLX023', raw.nameNode, `workflow class ${wfName} is not exported by name, so the generated module cannot import it`, `write \`export class ${wfName}\``);
  for (const f of raw.fields) {
    const n = nodes.get(f.name);
    if (!n) {
      if (f.decorated) report('FLX021', f.nameNode, `field ${f.name} of ${wfName} has edge decorators but ${notNodes.get(f.name)!}`);
      continue;
    }
    if (n.nestingCycle) report('FLX027', f.nameNode, `nested workflow ${f.name} (${n.cls.name.text}) contains ${wfName} again`);
    if (n.signatureProblem !== undefined) report('FLX022', f.nameNode, `node ${f.name} (${n.cls.name.text}) ${n.signatureProblem}`);
    if (n.signalNameType !== undefined) report('FLX028', f.nameNode, `the signal name of WaitFor node ${f.name} of ${wfName} is ${n.signalNameType}, not a string literal, so its signal cannot be typed`);
    if (f.hidden) report('FLX023', f.nameNode, `node field ${f.name} of ${wfName} is ${f.hidden}; generated code reads it as ${wfName}['${f.name}']`, `make ${f.name} public`);
    // @timeout limits an attempt's running time; a wait or a sleep is parked between attempts, outside any
    if (f.timeoutMs !== undefined && (n.wait !== undefined || n.signalNameType !== undefined || n.sleep)) {
      const what = n.sleep ? 'Sleep' : 'WaitFor';
      report(
        'FLX026',
        f.nameNode,
        `@timeout(${f.timeoutMs}) on ${what} node ${f.name} of ${wfName} limits nothing: the node parks between attempts, where no attempt time runs`,
        n.sleep ? 'remove @timeout: a Sleep ends when its delay does' : `give the wait its own limit: new WaitFor(name, { timeoutMs: ${f.timeoutMs} }) (a timeout is then a failure: @retry and @edge.onFailure apply)`,
      );
    }
  }
}
