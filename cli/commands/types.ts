import type { Command } from 'commander';
import type { DistributedBackend } from '../../runtime/distributed/contracts.js';

/** What a command needs from the process, injectable for tests. */
export interface CliIo {
  readonly cwd: string;
  /** Colour diagnostics (stderr is a TTY and NO_COLOR is unset). */
  readonly color: boolean;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** stderr is a terminal: progress is a bar there, plain lines otherwise (`cli/progress.ts`). */
  readonly stderrIsTTY?: boolean;
  /** The process exit code the command asks for (0 ok, 1 diagnostics/stale, 2 usage or internal error). */
  exitCode: number;
  /**
   * Long-running commands (`build --watch`, `worker`) register how to stop; the CLI calls it on SIGINT/SIGTERM
   * and then lets the process end.
   */
  onStop(stop: () => void | Promise<void>): void;
  /**
   * Opens the store a `--store <url>` names (default `openRunsStore`, cli/store/open.ts). A test passes one that returns a backend it
   * owns (the in-process memory backend): commands then leave it open.
   */
  readonly connect?: (url: string) => Promise<DistributedBackend>;
}

/**
 * A `floxide` subcommand. Modules export one as `default`, and `cli/cli.ts` lists them (one line each), so
 * `floxide worker` and `floxide runs` can live next to the code they drive.
 */
export type CommandFactory = (io: CliIo) => Command;
