/**
 * Errors as every mode stores them (`serializeError`) and reads them back (`reviveError`): what a failure carries
 * must survive the store (an AggregateError's gathered errors were dropped, only its message kept).
 */
import { describe, expect, it } from 'vitest';
import { AGGREGATED_KEPT, InvalidSignalError, reviveError, serializeError, SignalKeyConflictError, type SerializedError } from '../../runtime/core/errors.js';
import { publicError } from '../../cli/ui/views.js';

describe('serialised errors: an AggregateError keeps the errors it gathers', () => {
  const aggregate = () => new AggregateError([new TypeError('card declined'), new Error('stock too low', { cause: new RangeError('-1') })], 'both checks failed');

  it('serialises each gathered error, its cause included, and revives an AggregateError of revived errors', () => {
    const data = serializeError(aggregate());
    expect(data).toMatchObject({
      name: 'AggregateError',
      message: 'both checks failed',
      errors: [
        { name: 'TypeError', message: 'card declined' },
        { name: 'Error', message: 'stock too low', cause: { name: 'RangeError', message: '-1' } },
      ],
    });
    const back = reviveError(JSON.parse(JSON.stringify(data)) as SerializedError);
    expect(back).toBeInstanceOf(AggregateError);
    const errors = (back as AggregateError).errors as Error[];
    expect(errors.map((e) => [e.name, e.message])).toEqual([['TypeError', 'card declined'], ['Error', 'stock too low']]);
    expect((errors[1]!.cause as Error).message).toBe('-1');
  });

  it(`keeps the first ${AGGREGATED_KEPT} errors, and none of an aggregate whose errors cannot be read`, () => {
    const many = new AggregateError(Array.from({ length: 50 }, (_, i) => new Error(`e${i}`)), 'many');
    expect(serializeError(many).errors!.map((e) => e.message)).toEqual(Array.from({ length: AGGREGATED_KEPT }, (_, i) => `e${i}`));
    const { proxy, revoke } = Proxy.revocable([new Error('x')], {});
    revoke();
    const unreadable = new AggregateError([], 'unreadable');
    Object.defineProperty(unreadable, 'errors', { value: proxy });
    expect(serializeError(unreadable)).toEqual({ name: 'AggregateError', message: 'unreadable', stack: expect.any(String) });
    expect(serializeError(new AggregateError([], 'none')).errors).toBeUndefined();
  });

  it('revives stored errors that are not serialised errors as nothing, not as something they are not', () => {
    const back = reviveError({ name: 'AggregateError', message: 'm', errors: [5, null, { name: 'Error', message: 'kept' }] as unknown as SerializedError[] });
    expect(((back as AggregateError).errors as Error[]).map((e) => e.message)).toEqual(['kept']);
  });

  it('reaches the dashboard without any stack', () => {
    const shown = publicError(serializeError(aggregate()));
    expect(JSON.stringify(shown)).not.toContain('stack');
    expect(shown.errors!.map((e) => e.message)).toEqual(['card declined', 'stock too low']);
  });
});

describe('SignalKeyConflictError as stored data', () => {
  it('is revived by name with its run, key and what differs (another process, another copy of floxide)', () => {
    const err = SignalKeyConflictError.of('r1', 'mail-1', ['name', 'payload'], 'approval');
    expect(err.message).toBe(
      'run r1 already received a signal with key "mail-1" and another name (it was "approval") and payload: a key names one signal, so this one was refused (nothing delivered or kept); send it with a key of its own',
    );
    const back = reviveError(JSON.parse(JSON.stringify(serializeError(err))) as SerializedError);
    expect(back).toBeInstanceOf(SignalKeyConflictError);
    expect(back).toBeInstanceOf(InvalidSignalError);
    expect(back).toMatchObject({ name: 'SignalKeyConflictError', code: 'FLOXIDE_SIGNAL_KEY_CONFLICT', message: err.message, runId: 'r1', key: 'mail-1', differs: ['name', 'payload'] });
  });

  it('revives stored details that are not its data as none (stored data is not trusted)', () => {
    const back = reviveError({ name: 'SignalKeyConflictError', message: 'm', details: { runId: 5, key: 'k', differs: ['name'] } });
    expect(back).toMatchObject({ runId: '', key: '', differs: [] });
    expect(reviveError({ name: 'SignalKeyConflictError', message: 'm', details: { runId: 'r', key: 'k', differs: ['name', 'other'] } })).toMatchObject({ differs: ['name'] });
  });
});
