/**
 * Progress of long CLI work on stderr (stdout keeps the command's output): a bar, drawn by cli-progress, when stderr
 * is a terminal; otherwise a plain line at each quarter (`floxide: analysed 50/200 files`), so logs stay readable.
 */
import type { CliIo } from './commands/types.js';

export interface Progress {
  /** `done` of `total` so far (the total may grow: a run enqueues items as it goes). */
  update(done: number, total: number): void;
  /** Ends the bar (or prints nothing more). */
  stop(): void;
}

/** A progress display for `what` (`'analysed'`, `'items done'`...) counted in `unit`s. */
export async function progressOn(io: CliIo, what: string, unit: string): Promise<Progress> {
  if (io.stderrIsTTY) {
    const { SingleBar, Presets } = (await import('cli-progress')).default;
    const bar = new SingleBar({ stream: io.stderr as NodeJS.WritableStream, format: `floxide: ${what} [{bar}] {value}/{total} ${unit}`, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
    let started = false;
    return {
      update(done, total) {
        if (!started) bar.start(total, done);
        else {
          bar.setTotal(total);
          bar.update(done);
        }
        started = true;
      },
      stop: () => started && bar.stop(),
    };
  }
  let printed = -1;
  return {
    update(done, total) {
      const quarter = total > 0 ? Math.floor((4 * done) / total) : 0;
      if (quarter <= printed) return;
      printed = quarter;
      io.stderr.write(`floxide: ${what} ${done}/${total} ${unit}\n`);
    },
    stop() {},
  };
}
