/**
 * The article pipeline (reference: llm_article_example.rs): outline -> draft -> review, with the LLM behind an
 * interface so it runs offline on a deterministic stub. `draft` retries, and falls back to `apology`.
 */
import { edge, merge, node, retry, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

/** The one thing the nodes need from a language model. */
export interface Llm {
  complete(prompt: string, signal: AbortSignal): Promise<string>;
}

/** A deterministic stand-in for a real model: the same prompt always gives the same text. */
export class StubLlm implements Llm {
  calls = 0;
  async complete(prompt: string): Promise<string> {
    this.calls++;
    const cut = prompt.indexOf(': ');
    const kind = cut < 0 ? prompt : prompt.slice(0, cut);
    const subject = cut < 0 ? '' : prompt.slice(cut + 2);
    switch (kind) {
      case 'outline':
        return `1. What ${subject} is\n2. Why ${subject} matters\n3. How to start with ${subject}`;
      case 'draft':
        return subject.split('\n').map((line) => `${line.replace(/^\d+\. /, '')}: a paragraph.`).join(' ');
      case 'review':
        return `Reviewed (${subject.length} chars): ${subject}`;
      default:
        throw new Error(`stub cannot answer ${JSON.stringify(kind)}`);
    }
  }
}

export class ArticleCtx {
  /** Every step appends what it did. */
  @merge.append() log: string[] = [];
  /** How many model calls the run made. */
  @merge.sum() llmCalls = 0;
}

@node()
export class Outline implements Node<string, string, ArticleCtx> {
  constructor(private readonly llm: Llm) {}
  async process(ctx: WorkflowCtx<ArticleCtx>, topic: string): Promise<Transition<string>> {
    if (ctx.signal.aborted) return Transition.abort(new Error('cancelled'));
    const outline = await this.llm.complete(`outline: ${topic}`, ctx.signal);
    ctx.store.llmCalls += 1;
    ctx.store.log.push(`outline(${topic})`);
    return Transition.next(outline);
  }
}

@node()
export class Draft implements Node<string, string, ArticleCtx> {
  constructor(private readonly llm: Llm) {}
  async process(ctx: WorkflowCtx<ArticleCtx>, outline: string): Promise<Transition<string>> {
    const draft = await this.llm.complete(`draft: ${outline}`, ctx.signal);
    ctx.store.llmCalls += 1;
    ctx.store.log.push(`draft(attempt ${ctx.attempt})`);
    return Transition.next(draft);
  }
}

@node()
export class Review implements Node<string, string, ArticleCtx> {
  constructor(private readonly llm: Llm) {}
  async process(ctx: WorkflowCtx<ArticleCtx>, draft: string): Promise<Transition<string>> {
    const reviewed = await this.llm.complete(`review: ${draft}`, ctx.signal);
    ctx.store.llmCalls += 1;
    ctx.store.log.push('review');
    return Transition.next(reviewed);
  }
}

@node()
export class Apology implements Node<string, string, ArticleCtx> {
  process(ctx: WorkflowCtx<ArticleCtx>, outline: string): Transition<string> {
    ctx.store.log.push(`apology(${ctx.failure?.message ?? 'unknown'})`);
    return Transition.next(`Sorry, no article today. The outline was:\n${outline}`);
  }
}

@workflow({ start: 'outline', context: ArticleCtx })
export class ArticleWorkflow {
  @edge('draft') outline: Outline;
  @retry({ maxAttempts: 3, backoff: 'exponential', initialDelayMs: 10 })
  @edge('review')
  @edge.onFailure('apology')
  draft: Draft;
  review: Review;
  apology: Apology;

  constructor(llm: Llm) {
    this.outline = new Outline(llm);
    this.draft = new Draft(llm);
    this.review = new Review(llm);
    this.apology = new Apology();
  }
}
