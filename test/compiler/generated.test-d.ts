/** Type-level tests of the committed generated modules: the work-item unions are exact and the dispatch exhaustive. */
import { describe, expectTypeOf, it } from 'vitest';
import { bindWorkflow, type NodeSpec, type Transition, type WorkflowDef, type WorkflowInputOf, type WorkflowOutputOf, type WorkflowSignalsOf } from 'floxide';
import type { ArticleCtx } from '../../examples/article.js';
import type { Big, Small, Size } from '../../examples/branching.js';
import {
  ArticleWorkflowDef,
  ArticleWorkflowNodes,
  processArticleWorkflowWorkItem,
  type ArticleWorkflowContext,
  type ArticleWorkflowInput,
  type ArticleWorkflowOutput,
  type ArticleWorkflowWorkItem,
} from '../../examples/article.floxide.js';
import { type ThresholdWorkflowWorkItem, type ThresholdWorkflowOutput } from '../../examples/branching.floxide.js';
import { InnerWorkflowDef, OuterWorkflowNodes, type OuterWorkflowInput, type OuterWorkflowWorkItem } from '../../examples/nested.floxide.js';
import { type RetryWorkflowWorkItem, processRetryWorkflowWorkItem } from '../../examples/retry.floxide.js';
import { ApprovalFlow, SleepFlow, type Decision } from '../fixtures/signals/flows.js';
import { ApprovalFlowDef, ApprovalFlowSignalNames, SleepFlowDef, StampFlowDef, VoteFlowSignalNames, type ApprovalFlowSignals, type StampFlowSignals, type VoteFlowSignals } from '../fixtures/signals/flows.floxide.js';

describe('generated work-item unions', () => {
  it('are exact: one member per node, with the node input and nothing else', () => {
    expectTypeOf<ArticleWorkflowWorkItem>().toEqualTypeOf<
      | { node: 'outline'; id: string; input: string }
      | { node: 'draft'; id: string; input: string }
      | { node: 'review'; id: string; input: string }
      | { node: 'apology'; id: string; input: string }
    >();
    expectTypeOf<ThresholdWorkflowWorkItem>().toEqualTypeOf<
      { node: 'classify'; id: string; input: number } | { node: 'small'; id: string; input: Small } | { node: 'big'; id: string; input: Big }
    >();
    expectTypeOf<RetryWorkflowWorkItem>().toEqualTypeOf<{ node: 'flaky'; id: string; input: void }>();
  });

  it('reject unknown nodes, wrong inputs and extra properties', () => {
    // @ts-expect-error: no such node
    const unknownNode: ArticleWorkflowWorkItem = { node: 'publish', id: '1', input: 'x' };
    // @ts-expect-error: `outline` takes a string
    const wrongInput: ArticleWorkflowWorkItem = { node: 'outline', id: '1', input: 42 };
    // @ts-expect-error: `small` takes the narrowed `Small` variant, not any `Size`
    const wideInput: ThresholdWorkflowWorkItem = { node: 'small', id: '1', input: { kind: 'big', value: 1 } as Size };
    // @ts-expect-error: exact members, no extra properties
    const extra: ArticleWorkflowWorkItem = { node: 'outline', id: '1', input: 'x', retries: 2 };
    void [unknownNode, wrongInput, wideInput, extra];
  });

  it('type nested workflow nodes from the inner generated definition', () => {
    expectTypeOf<Extract<OuterWorkflowWorkItem, { node: 'inner' }>['input']>().toEqualTypeOf<number>();
    expectTypeOf<OuterWorkflowInput>().toEqualTypeOf<WorkflowInputOf<typeof InnerWorkflowDef>>();
    expectTypeOf<WorkflowOutputOf<typeof InnerWorkflowDef>>().toEqualTypeOf<number>();
    expectTypeOf(OuterWorkflowNodes.inner.workflow).returns.toEqualTypeOf<typeof InnerWorkflowDef>();
  });
});

describe('generated input, output, context and definition', () => {
  it('carry the workflow types', () => {
    expectTypeOf<ArticleWorkflowInput>().toEqualTypeOf<string>();
    expectTypeOf<ArticleWorkflowOutput>().toEqualTypeOf<string>();
    expectTypeOf<ArticleWorkflowContext>().toEqualTypeOf<ArticleCtx>();
    expectTypeOf<ThresholdWorkflowOutput>().toEqualTypeOf<string>();
    expectTypeOf(ArticleWorkflowDef).toMatchTypeOf<WorkflowDef<any, ArticleWorkflowWorkItem, string, string, ArticleCtx>>();
  });

  it('have exactly one NodeSpec per node', () => {
    expectTypeOf<keyof typeof ArticleWorkflowNodes>().toEqualTypeOf<ArticleWorkflowWorkItem['node']>();
    expectTypeOf(ArticleWorkflowNodes.draft).toMatchTypeOf<NodeSpec>();
    expectTypeOf(ArticleWorkflowNodes.draft.fallbacks).toEqualTypeOf<readonly ['apology']>();
  });

  it('dispatch takes exactly the union (exhaustive switch) and returns a transition', () => {
    expectTypeOf(processArticleWorkflowWorkItem).parameter(1).toEqualTypeOf<ArticleWorkflowWorkItem>();
    expectTypeOf(processArticleWorkflowWorkItem).returns.toEqualTypeOf<Promise<Transition<unknown>>>();
    expectTypeOf(processRetryWorkflowWorkItem).parameter(1).toEqualTypeOf<RetryWorkflowWorkItem>();
  });
});

describe('generated signals', () => {
  it('map each signal name of the WaitFor nodes to its payload type, and carry it in the definition', () => {
    expectTypeOf<ApprovalFlowSignals>().toEqualTypeOf<{ approval: Decision }>();
    expectTypeOf<VoteFlowSignals>().toEqualTypeOf<{ vote: { vote: string } }>();
    expectTypeOf(ApprovalFlowSignalNames).toEqualTypeOf<readonly ['approval']>();
    expectTypeOf(VoteFlowSignalNames).toEqualTypeOf<readonly ['vote']>();
    expectTypeOf<WorkflowSignalsOf<typeof ApprovalFlowDef>>().toEqualTypeOf<ApprovalFlowSignals>();
    // A workflow that waits for no signal accepts none.
    expectTypeOf<WorkflowSignalsOf<typeof SleepFlowDef>>().toEqualTypeOf<Record<never, never>>();
  });

  it('type a payload by what the wait\'s check takes: a schema\'s input (it may transform), while the node outputs what it gives', () => {
    expectTypeOf<StampFlowSignals>().toEqualTypeOf<{ stamp: { at: string } }>();
    expectTypeOf<WorkflowOutputOf<typeof StampFlowDef>>().toEqualTypeOf<{ at: number }>();
  });

  it('reject an unknown name and a wrong payload', () => {
    // @ts-expect-error: ApprovalFlow has no signal "aproval"
    const unknownName: keyof ApprovalFlowSignals = 'aproval';
    // @ts-expect-error: the payload of "approval" is a Decision
    const wrongPayload: ApprovalFlowSignals['approval'] = { approved: 'yes', by: 'x' };
    void [unknownName, wrongPayload];
  });
});

describe('bindWorkflow', () => {
  it('takes an instance of the definition\'s workflow class only', () => {
    void bindWorkflow(ApprovalFlowDef, new ApprovalFlow());
    // @ts-expect-error: a SleepFlow is not an ApprovalFlow
    void bindWorkflow(ApprovalFlowDef, new SleepFlow());
    // @ts-expect-error: nor is any object
    void bindWorkflow(ApprovalFlowDef, {});
  });
});
