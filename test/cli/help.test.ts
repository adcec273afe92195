/**
 * The help and usage errors of the `floxide` command tree, in-process through runCli (the binary's code path): a
 * missing or unknown command is bad usage (exit 2, help on stderr), `floxide help <command..>` shows a command's help
 * at any depth.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_REDELIVERIES } from '../../runtime/distributed/execution.js';
import { DEFAULT_LEASE_MS } from '../../runtime/distributed/lease.js';
import { DEFAULT_PURGE_EVERY_MS } from '../../runtime/distributed/retention.js';
import { DEFAULT_GRACE_MS, DEFAULT_HANDOFF_LIMIT } from '../../runtime/distributed/worker.js';
import { cliCaptured } from './run-cli.js';

const cli = (...argv: string[]) => cliCaptured(argv);

describe('floxide help and usage errors', () => {
  it('a command group without its subcommand is bad usage: exit 2, its help on stderr', async () => {
    for (const group of [[], ['runs'], ['versions'], ['schedule']]) {
      const r = await cli(...group);
      expect([r.code, r.out], group.join(' ')).toEqual([2, '']);
      expect(r.err).toMatch(new RegExp(`^Usage: floxide${group.map((g) => ` ${g}`).join('')} \\[options\\] \\[command\\]\\n`));
    }
  });

  it('bad usage in a command group\'s subcommand exits 2, its errors on stderr', async () => {
    const r = await cli('versions', 'prune', 'src', '--bogus');
    expect([r.code, r.out, r.err]).toEqual([2, '', "error: unknown option '--bogus'\n(run with --help for usage)\n"]);
  });

  it('`floxide help <command..>` shows the help of a command at any depth; an unknown one is an unknown command (exit 2)', async () => {
    const top = await cli('help');
    expect([top.code, top.err]).toEqual([0, '']);
    expect(top.out).toMatch(/^Usage: floxide \[options\] \[command\]\n/);
    for (const argv of [['runs'], ['runs', 'list'], ['schedule', 'add'], ['versions', 'prune']]) {
      const r = await cli('help', ...argv);
      expect([r.code, r.err], argv.join(' ')).toEqual([0, '']);
      expect(r.out).toBe((await cli(...argv, '--help')).out);
      expect(r.out).toMatch(new RegExp(`^Usage: floxide ${argv.join(' ')} `));
    }
    for (const argv of [['bogus'], ['runs', 'bogus']]) {
      const r = await cli('help', ...argv);
      expect([r.code, r.out, r.err], argv.join(' ')).toEqual([2, '', `error: unknown command '${argv.at(-1)}'\n(run with --help for usage)\n`]);
    }
  });

  it('marks the mandatory --store of worker, ui, runs and schedule (required); schedule offers only the stores that keep schedules', async () => {
    const storeHelp = async (argv: string[]) => {
      const help = await cli(...argv, '--help');
      expect(help.code, argv.join(' ')).toBe(0);
      return /-s, --store <url> (.+?) (?:-\w, )?--[a-z-]+ /.exec(help.out.replace(/\s+/g, ' '))?.[1];
    };
    const groups = { runs: ['list', 'show', 'cancel', 'pause', 'resume', 'watch', 'wait', 'versions', 'signal', 'migrate'], schedule: ['list', 'add', 'pause', 'resume', 'remove'] };
    const commands = [['worker'], ['ui'], ...Object.entries(groups).flatMap(([g, subs]) => subs.map((s) => [g, s]))];
    for (const argv of commands) expect(await storeHelp(argv), argv.join(' ')).toMatch(/\(required\)$/);
    for (const sub of groups.schedule) {
      const text = await storeHelp(['schedule', sub]);
      expect(text, sub).toContain('redis://');
      expect(text, sub).not.toContain('sqlite:runs.db');
    }
    // not a mandatory option: not marked
    expect(await storeHelp(['versions', 'prune'])).not.toContain('(required)');
  });

  it('a bad number of `runs wait` names the option and the value it got, exit 2, before any store is opened', async () => {
    for (const [flag, value, rule] of [['--timeout-ms', 'abc', 'a number of ms >= 0'], ['--timeout-ms', '-1', 'a number of ms >= 0'], ['--poll-ms', '0', 'a number of ms > 0']]) {
      const r = await cli('runs', 'wait', 'r-1', '--store', 'redis://127.0.0.1:1', flag, value);
      expect([r.code, r.out, r.err], `${flag} ${value}`).toEqual([2, '', `floxide runs: ${flag} must be ${rule}, got ${JSON.stringify(value)}\n`]);
    }
  });

  it('`runs signal --help` says what docs/cli.md says of a payload the wait refuses: it changes nothing about the run (no failure)', async () => {
    const help = (await cli('runs', 'signal', '--help')).out.replace(/\s+/g, ' ');
    const data = /--data <json> (.+?) --key /.exec(help)?.[1];
    expect(data).toContain('the wait checks it when it takes it: one that fails is refused there and changes nothing about the run');
    expect(data).not.toMatch(/\bfails;/);
  });

  it('`worker --help` gives the default of every tuning option, the runtime\'s own', async () => {
    const help = (await cli('worker', '--help')).out.replace(/\s+/g, ' ');
    const defaults = { '--lease-ms <ms>': DEFAULT_LEASE_MS, '--grace-ms <ms>': DEFAULT_GRACE_MS, '--max-redeliveries <n>': DEFAULT_MAX_REDELIVERIES, '--handoff-limit <n>': DEFAULT_HANDOFF_LIMIT, '--purge-every-ms <ms>': DEFAULT_PURGE_EVERY_MS };
    for (const [flag, value] of Object.entries(defaults)) {
      const text = new RegExp(`${flag} (.+?) (?:-\\w, )?--[a-z-]+ `).exec(help)?.[1];
      expect(text, flag).toMatch(new RegExp(`\\(default ${value}[;)]`));
    }
  });
});
