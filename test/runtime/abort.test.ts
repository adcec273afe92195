import { describe, expect, it } from 'vitest';
import { AbortSource } from 'floxide';

describe('AbortSource', () => {
  it('creates its signal on first read, already aborted with the reason when the source was', () => {
    const s = new AbortSource();
    const reason = new Error('stop');
    s.abort(reason);
    expect(s.aborted).toBe(true);
    expect(s.reason).toBe(reason);
    expect(s.signal.aborted).toBe(true);
    expect(s.signal.reason).toBe(reason);
  });

  it('aborts a signal read before the abort, calls each listener once, ignores a second abort', () => {
    const s = new AbortSource();
    const signal = s.signal;
    const calls: string[] = [];
    signal.addEventListener('abort', () => calls.push('signal'));
    s.onAbort(() => calls.push('a'));
    const off = s.onAbort(() => calls.push('b'));
    off();
    s.abort('first');
    s.abort('second');
    expect(calls).toEqual(['signal', 'a']);
    expect(s.reason).toBe('first');
    expect(signal.reason).toBe('first');
    expect(s.onAbort(() => calls.push('late'))).toBeTypeOf('function');
    expect(calls).toEqual(['signal', 'a']);
  });

  it('AbortSource.of follows a signal it does not own and refuses to abort it', () => {
    const ac = new AbortController();
    const s = AbortSource.of(ac.signal);
    expect(s.signal).toBe(ac.signal);
    const calls: unknown[] = [];
    const off = s.onAbort(() => calls.push(s.reason));
    s.onAbort(() => calls.push('second'));
    off();
    expect(() => s.abort('x')).toThrow(/does not own/);
    ac.abort('why');
    expect(s.aborted).toBe(true);
    expect(calls).toEqual(['second']);
  });
});
