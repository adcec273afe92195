/**
 * Test helpers for traces: an SDK tracer provider that keeps every finished span in memory, and the spans as plain
 * JSON records (what a child process writes for the test that spawned it).
 */
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A finished span, as plain data. */
export interface SpanRecord {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Record<string, unknown>;
  /** SpanStatusCode: 0 unset, 1 ok, 2 error. */
  readonly status: number;
  readonly statusMessage: string | undefined;
  readonly exceptions: number;
  /** Epoch ms. */
  readonly start: number;
  readonly end: number;
}

const ms = ([s, ns]: [number, number]): number => s * 1000 + ns / 1e6;

export function spanRecord(s: ReadableSpan): SpanRecord {
  const c = s.spanContext();
  return {
    name: s.name,
    traceId: c.traceId,
    spanId: c.spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    attributes: { ...s.attributes },
    status: s.status.code,
    statusMessage: s.status.message,
    exceptions: s.events.filter((e) => e.name === 'exception').length,
    start: ms(s.startTime),
    end: ms(s.endTime),
  };
}

/** A tracer provider exporting to memory: pass `{ tracerProvider: t.provider }` as `tracing`. */
export function memoryTracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return {
    provider,
    spans: (): SpanRecord[] => exporter.getFinishedSpans().map(spanRecord),
    reset: () => exporter.reset(),
  };
}
