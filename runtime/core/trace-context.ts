/**
 * The one trace-context rule: a run's trace context is stored with the run as a W3C `traceparent` string
 * (`00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`, https://www.w3.org/TR/trace-context/), so every
 * process that touches the run can make its spans children of the run's span. Parsing and checking only: no
 * OpenTelemetry import (see runtime/engine/tracing.ts for the spans).
 */
import { InvalidArgumentError } from './errors.js';

/** A parsed `traceparent`. */
export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The parts of a version-00 `traceparent`, or undefined when `value` is not one (all-zero ids included). */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) };
}

/** Whether a valid `traceparent` says its trace is sampled (the W3C trace flags' bit 0). */
export function isSampledTraceparent(traceparent: string): boolean {
  return (parseInt(traceparent.slice(-2), 16) & 1) === 1;
}

/** The `traceparent` text of a span context. */
export function formatTraceparent(p: TraceParent): string {
  return `00-${p.traceId}-${p.spanId}-${(p.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Throws `InvalidArgumentError` unless `value` is undefined or a valid version-00 `traceparent`. */
export function assertTraceparent(value: unknown, what = 'traceparent'): asserts value is string | undefined {
  if (value !== undefined && parseTraceparent(value) === undefined) {
    throw new InvalidArgumentError(`${what} must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>), got ${JSON.stringify(value)}`);
  }
}
