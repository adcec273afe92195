/**
 * `floxide ui --store <url>`: serves the runs dashboard (cli/ui/) until SIGTERM/SIGINT, then exits 0. The URL to open
 * is the first line it prints.
 */
import { Command, Option } from 'commander';
import type { CliIo, CommandFactory } from './types.js';
import { STORE_UNREACHABLE, withHelp, type CommandHelp } from '../help.js';

const HELP: CommandHelp = {
  notes: [
    'The first line printed is the URL to open. Bound to a loopback address (the default, 127.0.0.1) the dashboard needs no token; on any other address every request needs one: --token, else FLOXIDE_UI_TOKEN, else a random one, carried by the printed URL (?token=...).',
    '--graphs names folders where `floxide build --docs <dir>` wrote <Workflow>.svg, and the source folders holding the *.floxide.versions.json that floxide build keeps (default: docs and the current folder, versions files four folders down): the run page draws the graph of the run\'s own version (the SVG when it is that version\'s, else drawn from the versions file that records it, never the graph of another version) with each node coloured by the state of its items.',
  ],
  examples: [
    { run: 'floxide ui --store redis://127.0.0.1:6379 --graphs docs src/flows', note: 'graphs from build --docs, and older versions from the versions files' },
    { run: 'floxide ui --store sqlite:runs.db --port 0', note: 'a checkpoint file, on a free port' },
    { run: "floxide ui --store 'postgres://app@db:5432/prod?schema=orders'" },
    { run: 'floxide ui --store redis://cache:6379 --host 0.0.0.0 --token "$FLOXIDE_UI_TOKEN"', note: 'reachable from other machines: a token is required' },
  ],
  exitCodes: {
    0: 'stopped by SIGTERM or Ctrl-C',
    1: `${STORE_UNREACHABLE}, or the port cannot be bound`,
    2: 'bad usage: a malformed store URL, --port, --token or --max-live-streams',
  },
};

/** Where graphs are looked for without --graphs: the docs folder and the project's versions files (cli/ui/graphs.ts). */
const DEFAULT_GRAPHS = ['docs', '.'];

interface UiFlags {
  store: string;
  host: string;
  port: string;
  token?: string;
  graphs?: string[];
  maxLiveStreams?: string;
}

const uiCommand: CommandFactory = (io: CliIo) =>
  withHelp(new Command('ui'), HELP)
    .description('serve a web dashboard of the runs in a store: list, graph coloured live by node state, actions')
    .addOption(new Option('-s, --store <url>', 'the store, e.g. `redis://127.0.0.1:6379`, `postgres://app@db:5432/prod` or `sqlite:runs.db`').makeOptionMandatory())
    .option('--host <host>', 'the address to listen on, e.g. `--host 0.0.0.0` (then a token is required)', '127.0.0.1')
    .option('-p, --port <n>', 'the port; 0 picks a free one, e.g. `--port 0`', '4300')
    .option('--token <token>', 'the access token (16-256 characters of [A-Za-z0-9._~-]), e.g. `--token "$FLOXIDE_UI_TOKEN"`')
    .option('-g, --graphs <dir...>', 'folders holding <Workflow>.svg from `floxide build --docs`, and source folders holding *.floxide.versions.json (default: docs and the current folder), e.g. `--graphs docs src`')
    .option('--max-live-streams <n>', 'the most live-update streams open at once (one per open page; default 100): beyond it a page is answered 503 with Retry-After and shows no live updates, e.g. `--max-live-streams 500`')
    .action(async (flags: UiFlags) => {
      const port = Number(flags.port);
      const maxLiveStreams = flags.maxLiveStreams === undefined ? undefined : Number(flags.maxLiveStreams);
      if (maxLiveStreams !== undefined && !(/^[0-9]+$/.test(flags.maxLiveStreams!) && maxLiveStreams >= 1 && maxLiveStreams <= 100_000)) {
        io.stderr.write(`floxide ui: --max-live-streams must be an integer from 1 to 100000, got ${JSON.stringify(flags.maxLiveStreams)}\n`);
        io.exitCode = 2;
        return;
      }
      // by default, as `floxide build --docs docs` in a project's folder writes them, and its versions files
      const graphs = flags.graphs ?? DEFAULT_GRAPHS;
      if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
        io.stderr.write(`floxide ui: --port must be an integer from 0 to 65535, got ${JSON.stringify(flags.port)}\n`);
        io.exitCode = 2;
        return;
      }
      const { redactUrl } = await import('../../runtime/distributed/connect.js');
      const { openRunsStore } = await import('../store/open.js');
      const { InvalidArgumentError } = await import('../../runtime/core/errors.js');
      const { startUiServer } = await import('../ui/server.js');
      let backend;
      try {
        backend = await openRunsStore(flags.store, io.cwd);
      } catch (err) {
        io.stderr.write(`floxide ui: ${(err as Error).message}\n`);
        io.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
        return;
      }
      let server;
      try {
        const token = flags.token ?? process.env.FLOXIDE_UI_TOKEN;
        server = await startUiServer({ backend, host: flags.host, port, ...(token ? { token } : {}), graphs, ...(maxLiveStreams === undefined ? {} : { maxLiveStreams }) });
      } catch (err) {
        await backend.close();
        io.stderr.write(`floxide ui: ${(err as Error).message}\n`);
        io.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
        return;
      }
      io.stdout.write(`${server.url}\n`);
      io.stdout.write(`floxide ui: serving ${redactUrl(flags.store)}, graphs from ${graphs.join(', ')}${flags.graphs ? '' : ' (the default of --graphs)'}; Ctrl-C stops\n`);
      const s = server;
      await new Promise<void>((resolve) =>
        io.onStop(async () => {
          await s.close();
          resolve();
        }),
      );
      await backend.close();
      io.exitCode = 0;
    });

export default uiCommand;
