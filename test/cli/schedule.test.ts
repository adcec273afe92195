/**
 * `floxide schedule list|add|pause|resume|remove` against real Redis and Postgres, in-process through runCli (the same
 * code path as the binary), each on state of its own; and `runs list --schedule` / `runs show` of a scheduled run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DistributedBackend, ScheduleStore } from '../../runtime/distributed/contracts.js';
import { scheduleRunId } from '../../runtime/distributed/schedule-rules.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { ChainWorkflowDef, CountCtx, REAL_BACKENDS, openTestBackend, type TestBackend } from '../distributed/helpers.js';
import { plantScheduleTimezone } from '../distributed/tamper.js';
import { cliCaptured } from './run-cli.js';

const cli = (...argv: string[]) => cliCaptured(argv);

const opened: TestBackend[] = [];
afterAll(async () => {
  await Promise.all(opened.map((t) => t.dispose()));
});

for (const name of REAL_BACKENDS) {
  describe(`floxide schedule (${name})`, () => {
    it('adds, lists, pauses, resumes and removes a schedule, with documented exit codes', async () => {
      const t = await openTestBackend(name, 'clisched');
      opened.push(t);
      const store = t.storeUrl;
      const b = t.backend as DistributedBackend & ScheduleStore;
      // A worker of ChainWorkflow has run against this store (its heartbeat says what it serves).
      await b.heartbeat('chain-worker', { status: 'idle', current: [], processed: 0, errors: 0, info: { workflow: 'ChainWorkflow', versions: 'v1' } });

      const add = await cli('schedule', 'add', 'nightly', '--store', store, '--workflow', 'ChainWorkflow', '--cron', '0 3 * * *', '--timezone', 'Europe/Paris', '--input', '4', '--catch-up', 'all', '--catch-up-limit', '24');
      expect(add.err).toBe('');
      expect(add.code).toBe(0);
      expect(add.out).toMatch(/schedule +nightly/);
      expect(add.out).toMatch(/cron +0 3 \* \* \* \(Europe\/Paris\)/);
      expect(await b.getSchedule('nightly')).toMatchObject({ workflow: 'ChainWorkflow', timezone: 'Europe/Paris', input: 4, catchUp: 'all', catchUpLimit: 24, paused: false });

      const list = await cli('schedule', 'list', '--store', store);
      expect(list.code).toBe(0);
      expect(list.out).toMatch(/^ID +WORKFLOW +CRON +TIMEZONE +STATE +NEXT/);
      expect(list.out).toMatch(/nightly +ChainWorkflow +0 3 \* \* \* +Europe\/Paris +active +\d{4}-\d\d-\d\d \d\d:00:00Z/);
      const json = await cli('schedule', 'list', '--store', store, '--json', '--workflow', 'ChainWorkflow');
      expect(JSON.parse(json.out)).toMatchObject([{ id: 'nightly', cron: '0 3 * * *' }]);

      expect((await cli('schedule', 'pause', 'nightly', '--store', store)).out).toBe('schedule nightly: paused, next tick -\n');
      expect((await b.getSchedule('nightly'))!.paused).toBe(true);
      expect((await cli('schedule', 'list', '--store', store)).out).toMatch(/nightly .* paused /);
      const resumed = await cli('schedule', 'resume', 'nightly', '--store', store, '--json');
      expect(JSON.parse(resumed.out)).toMatchObject({ id: 'nightly', paused: false });

      const bad = await cli('schedule', 'add', 'broken', '--store', store, '--workflow', 'ChainWorkflow', '--cron', '0 3 * *');
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/^floxide schedule: invalid cron expression "0 3 \* \*"/);
      const badInput = await cli('schedule', 'add', 'broken', '--store', store, '--workflow', 'ChainWorkflow', '--cron', '0 3 * * *', '--input', '{oops');
      expect(badInput.code).toBe(2);
      expect(badInput.err).toMatch(/^floxide schedule: --input: malformed JSON \(.+\): give --input JSON, in single quotes for the shell, with its keys and strings in double quotes, e\.g\. --input '\{"region":"eu"\}'\n$/);
      expect((await cli('schedule', 'add', 'broken', '--store', store, '--workflow', 'ChainWorkflow', '--cron', '* * * * *', '--catch-up', 'some')).code).toBe(2);
      expect(await b.getSchedule('broken')).toBeUndefined();

      expect((await cli('schedule', 'remove', 'nightly', '--store', store)).out).toBe('schedule nightly: removed\n');
      const again = await cli('schedule', 'remove', 'nightly', '--store', store);
      expect(again.code).toBe(1);
      expect(again.err).toBe('floxide schedule: no schedule with id "nightly"\n');
      expect((await cli('schedule', 'pause', 'nightly', '--store', store)).code).toBe(1);
      expect((await cli('schedule', 'list', '--store', store)).out).toBe('no schedules\n');
    });

    it('add warns when no worker serves the workflow and no run of it exists (a misspelt --workflow), and keeps the schedule', async () => {
      const t = await openTestBackend(name, 'clischedtypo');
      opened.push(t);
      const b = t.backend as DistributedBackend & ScheduleStore;
      await b.heartbeat('chain-worker', { status: 'idle', current: [], processed: 0, errors: 0, info: { workflow: 'ChainWorkflow', versions: 'v1' } });
      const typo = await cli('schedule', 'add', 'nightly', '--store', t.storeUrl, '--workflow', 'ChainWorkflw', '--cron', '0 3 * * *');
      expect(typo.code).toBe(0);
      expect(typo.err).toBe(
        'floxide schedule: warning: no worker of this store has said it serves "ChainWorkflw", and it holds no run of it (workers serve: ChainWorkflow); ' +
          'the schedule is saved, and its ticks start runs once a worker serving "ChainWorkflw" runs. If the name is misspelt: floxide schedule remove nightly --store <url>\n',
      );
      expect(await b.getSchedule('nightly')).toMatchObject({ workflow: 'ChainWorkflw' });
      // A workflow with runs but no worker yet (its workers are being deployed) is no typo.
      await new Orchestrator(t.backend, ChainWorkflowDef).startRun(new CountCtx(), 1, { runId: 'queued' });
      await b.removeWorker('chain-worker');
      const known = await cli('schedule', 'add', 'hourly', '--store', t.storeUrl, '--workflow', 'ChainWorkflow', '--cron', '0 * * * *');
      expect(known.err).toBe('');
    });

    it('lists a schedule whose time zone this process cannot read (stored from newer time zone data) with a warning naming it, beside the others (exit 0), and can pause and remove it', async () => {
      const t = await openTestBackend(name, 'clischedtz');
      opened.push(t);
      const b = t.backend as DistributedBackend & ScheduleStore;
      await b.putSchedule({ id: 'a-zone', workflow: 'ChainWorkflow', cron: '0 3 * * *' });
      await b.putSchedule({ id: 'b-fine', workflow: 'ChainWorkflow', cron: '0 3 * * *' });
      await plantScheduleTimezone(t.backend, 'a-zone', 'Mars/Olympus');
      const list = await cli('schedule', 'list', '--store', t.storeUrl);
      expect(list.code).toBe(0);
      expect(list.out).toMatch(/^a-zone +ChainWorkflow +0 3 \* \* \* +Mars\/Olympus +active +\? /m);
      expect(list.out).toMatch(/^b-fine +ChainWorkflow +0 3 \* \* \* +UTC +active +\d{4}-\d\d-\d\d 03:00:00Z/m);
      expect(list.err).toBe(
        'floxide schedule: warning: schedule a-zone: invalid time zone "Mars/Olympus" for cron expression "0 3 * * *": expected an IANA name such as "Europe/Paris" or "UTC"; ' +
          'workers that cannot read it start none of its runs: define it again (schedule add a-zone) or remove it\n',
      );
      expect(await cli('schedule', 'pause', 'a-zone', '--store', t.storeUrl)).toMatchObject({ code: 0, out: 'schedule a-zone: paused, next tick -\n' });
      expect((await cli('schedule', 'remove', 'a-zone', '--store', t.storeUrl)).code).toBe(0);
    });

    it('runs list --schedule and runs show name the schedule and tick of a scheduled run', async () => {
      const t = await openTestBackend(name, 'clischedruns');
      opened.push(t);
      const tick = Date.parse('2026-12-04T02:00:00.000Z');
      const orch = new Orchestrator(t.backend, ChainWorkflowDef);
      await orch.startRun(new CountCtx(), 1, { runId: scheduleRunId('nightly', tick) });
      await orch.startRun(new CountCtx(), 1, { runId: 'by-hand' });
      const list = await cli('runs', 'list', '--store', t.storeUrl, '--schedule', 'nightly', '--json');
      expect(list.code).toBe(0);
      expect((JSON.parse(list.out) as Array<{ runId: string }>).map((r) => r.runId)).toEqual(['schedule:nightly:2026-12-04T02:00:00.000Z']);
      const show = await cli('runs', 'show', scheduleRunId('nightly', tick), '--store', t.storeUrl);
      expect(show.code).toBe(0);
      expect(show.out).toMatch(/^schedule +nightly \(tick 2026-12-04T02:00:00.000Z\)$/m);
      expect((await cli('runs', 'show', 'by-hand', '--store', t.storeUrl)).out).not.toMatch(/^schedule/m);
    });
  });
}
