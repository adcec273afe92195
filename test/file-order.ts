/**
 * The order vitest starts the suite's files in: the longest first, so that the last minutes of `npm test` are not one
 * long file running alone while the other workers sit idle.
 *
 * Vitest orders by the durations of the previous run, which it keeps in `node_modules/.vite/vitest`. CI runs on a fresh
 * clone after `npm ci`: no durations, and vitest then starts the largest files first, which put the two fault-test
 * files (among the longest) last. Without a duration for every file, the files of {@link LONGEST_FILES} start first,
 * in that order, then the others in vitest's order. The measured durations behind the list are in docs/benchmarks.md.
 */
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files of the suite, longest first (paths from the repository's root), except the SIGKILL fault file:
 * it comes after a few shorter ones, so that it mostly starts once the SIGTERM one has ended. Each of the two starts a
 * `floxide worker` process every second or two for minutes, and side by side on a loaded 2-core machine both ran into
 * their timeouts.
 */
export const LONGEST_FILES: readonly string[] = [
  'test/distributed/faults-term.test.ts',
  'test/package/installed.test.ts',
  'test/testing/crash.test.ts',
  'test/cli/build.test.ts',
  'test/compiler/versions.test.ts',
  'test/tooling/ts-plugin.test.ts',
  'test/distributed/faults-kill.test.ts',
  'test/ui/server.test.ts',
  'test/distributed/schedules-real.test.ts',
  'test/tooling/vite.test.ts',
  'test/cli/init.test.ts',
  'test/distributed/chaos.test.ts',
  'test/distributed/postgres.test.ts',
  'test/distributed/versions.test.ts',
  'test/distributed/signals.test.ts',
  'test/tooling/register.test.ts',
  'test/tooling/regenerate.test.ts',
  'test/compiler/isolated-declarations.test.ts',
  'test/compiler/installed-package.test.ts',
  'test/runtime/crash.test.ts',
];

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const relativeOf = (file: TestSpecification) => path.relative(root, file.moduleId).split(path.sep).join('/');
    const measured = sorted.every((file) => this.ctx.cache.getFileTestResults(`${file.project.name}:${relativeOf(file)}`) !== undefined);
    if (measured) return sorted;
    const rank = (file: TestSpecification) => {
      const at = LONGEST_FILES.indexOf(relativeOf(file));
      return at < 0 ? LONGEST_FILES.length : at;
    };
    return sorted
      .map((file, at) => ({ file, at, rank: rank(file) }))
      .sort((a, b) => a.rank - b.rank || a.at - b.at)
      .map(({ file }) => file);
  }
}
