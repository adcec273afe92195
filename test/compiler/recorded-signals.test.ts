/**
 * `recordedSignalNames` reads from the versions files the signal names a graph version takes (what `floxide runs
 * signal` checks a name against without the workflow's code): for every workflow of the signals fixtures, nested waits
 * at every level included, they are the names of the signal map `floxide build` generated for that version.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { recordedSignalNames } from '../../compiler/versions/signals.js';
import * as flows from '../fixtures/signals/flows.floxide.js';
import * as approval from '../../examples/approval.floxide.js';
import * as article from '../../examples/article.floxide.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

type Def = { name: string; fingerprint: string; signals?: readonly string[] };
const defs = ([...Object.values(flows), ...Object.values(approval), ...Object.values(article)] as unknown[]).filter(
  (v): v is Def => typeof v === 'object' && v !== null && 'fingerprint' in v && 'processWorkItem' in v,
);

describe('recordedSignalNames', () => {
  it.each(defs.map((d) => [d.name, d] as const))('%s: the names of its generated signal map', async (_name, def) => {
    const recorded = await recordedSignalNames([repo], def.name, def.fingerprint);
    expect(recorded?.names).toEqual([...(def.signals ?? [])].sort());
  });

  it('nested waits by their path: audit.review.approval', async () => {
    expect(await recordedSignalNames([repo], flows.AuditFlowDef.name, flows.AuditFlowDef.fingerprint)).toEqual({ file: `${repo}test/fixtures/signals/flows.floxide.versions.json`, names: ['audit.review.approval'] });
  });

  it('a version no file records has no names to check against', async () => {
    expect(await recordedSignalNames([repo], 'ApprovalWorkflow', '0000000000000000')).toBeUndefined();
    expect(await recordedSignalNames([repo], 'NoSuchWorkflow', approval.ApprovalWorkflowDef.fingerprint)).toBeUndefined();
  });
});
