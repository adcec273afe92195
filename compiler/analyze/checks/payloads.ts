/**
 * The types along the edges: a join takes an array (FLX024); a success edge carries its source's output (FLX011), a
 * fallback its source's input (FLX012), each branch arm its variant of a discriminated output (FLX013; FLX015 for an
 * output or tag that is not one, FLX014 with a fix for missing arms), and at a join each payload is the element type
 * (FLX024).
 */
import type { ts } from 'ts-morph';
import type { DiagnosticCode } from '../../diagnostics.js';
import { addArmsFix } from '../fixes.js';
import type { ResolvedNode, ResolvedWorkflow } from '../resolve.js';
import type { Payload } from '../types.js';
import type { CheckContext } from './report.js';

export function checkPayloads(w: ResolvedWorkflow, cx: CheckContext): void {
  const { raw, nodes, duplicateEdges } = w;
  const { tools: t, report } = cx;
  for (const n of nodes.values()) {
    if (n.field.join && n.input && !n.accepts) report('FLX024', n.field.nameNode, `join node ${n.field.name} must take an array (T[]), but its input is ${n.inputText}`);
  }
  const send: SendPayload = (p, to, code, at, what) => {
    // A target that is not a node has no input to check (FLX010 or FLX021 says so).
    const target = nodes.get(to)?.accepts;
    if (!target || t.assignable(p, target.type)) return;
    const targetText = t.text(target.type);
    if (target.join) report('FLX024', at, `${what} ${p.text} is not assignable to ${targetText}, the element type of join ${to}'s input ${nodes.get(to)!.inputText}`);
    else report(code, at, `${what} ${p.text} is not assignable to ${to}'s input ${targetText}`);
  };
  const branchSources = new Set<string>();
  for (const from of raw.fields) {
    const src = nodes.get(from.name);
    if (!src) continue;
    for (const e of from.edges) {
      if (duplicateEdges.has(e) || !nodes.has(e.to)) continue;
      if (e.kind === 'success' && src.output) send(src.output, e.to, 'FLX011', e.targetNode, `${from.name}'s output`);
      if (e.kind === 'fallback' && src.input) send(t.payload([src.input]), e.to, 'FLX012', e.targetNode, `fallback ${from.name} -> ${e.to}: ${from.name}'s input`);
      if (e.kind === 'branch' || e.kind === 'otherwise') branchSources.add(from.name);
    }
  }
  // The nodes that would accept a payload (in declaration order): where a fix can route a missing arm.
  const acceptors = (p: Payload, except: string) =>
    raw.fields
      .map((f) => f.name)
      .filter((to) => {
        const target = to !== except ? nodes.get(to)?.accepts : undefined;
        return target !== undefined && t.assignable(p, target.type);
      });
  for (const name of branchSources) checkBranch(nodes.get(name)!, raw.discriminant, send, acceptors, cx);
  // Branch arms whose targets were all invalid still need their tags checked.
  for (const f of raw.fields) if ((f.arms.length > 0 || f.hasOtherwise) && nodes.has(f.name) && !branchSources.has(f.name)) checkBranch(nodes.get(f.name)!, raw.discriminant, send, acceptors, cx);
}

/** Checks that payload `p`, sent to node `to` along an edge whose target literal is `at`, fits it (`code` if not). */
type SendPayload = (p: Payload, to: string, code: DiagnosticCode, at: ts.Node, what: string) => void;

/** Branch checks of one node: discriminated output (FLX015), tags, exhaustiveness (FLX014), arm payloads (FLX013). */
function checkBranch(n: ResolvedNode, discriminant: string, send: SendPayload, acceptors: (p: Payload, except: string) => string[], { tools, report, rootDir }: CheckContext): void {
  const f = n.field;
  if (!n.output) return;
  const variants = tools.variants(n.output, discriminant);
  if ('bad' in variants) {
    report('FLX015', f.nameNode, `node ${f.name} branches on ${discriminant}, but its output ${n.output.text} is not a union discriminated by a string-literal ${JSON.stringify(discriminant)} (${variants.bad} is not)`);
    return;
  }
  const allTags = [...new Set(variants.flatMap((v) => v.tags))];
  const named = new Set<string>();
  for (const arm of f.arms) {
    named.add(arm.tag);
    if (!allTags.includes(arm.tag)) report('FLX015', arm.tagNode, `${JSON.stringify(arm.tag)} is not a variant of ${f.name}'s output ${n.output.text} (its ${discriminant} tags: ${allTags.map((x) => JSON.stringify(x)).join(', ')})`);
  }
  const missing = allTags.filter((tag) => !named.has(tag));
  if (missing.length > 0 && !f.hasOtherwise) {
    // Each missing tag goes to the node named like it when that one accepts the variant, else to the first node
    // that does, else to a field named like the tag (which the user then adds: FLX010 says so).
    const arms = missing.map((tag) => {
      const ok = acceptors(tools.payload(variants.filter((v) => v.tags.includes(tag)).map((v) => v.type)), f.name);
      return { tag, target: ok.includes(tag) ? tag : (ok[0] ?? tag) };
    });
    const lastArm = [...f.edges].reverse().find((e) => e.kind === 'branch')?.decorator;
    report('FLX014', f.nameNode, `branch arms of ${f.name} are not exhaustive: missing ${missing.map((x) => JSON.stringify(x)).join(', ')}`, undefined, [lastArm && addArmsFix(lastArm, arms, rootDir)]);
  }
  for (const e of f.edges) {
    if (e.kind === 'branch') {
      const narrowed = variants.filter((v) => v.tags.includes(e.tag!)).map((v) => v.type);
      if (narrowed.length > 0) send(tools.payload(narrowed), e.to, 'FLX013', e.targetNode, `arm ${JSON.stringify(e.tag)} of ${f.name}: variant`);
    } else if (e.kind === 'otherwise') {
      const rest = variants.filter((v) => v.tags.some((tag) => !named.has(tag))).map((v) => v.type);
      if (rest.length > 0) send(tools.payload(rest), e.to, 'FLX013', e.targetNode, `otherwise arm of ${f.name}: ${rest.length === 1 ? 'variant' : 'variants'}`);
    }
  }
}
