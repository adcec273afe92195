/**
 * `floxide/vite`: a Vite (and Vitest) plugin that brings each generated module (`./x.floxide.js`) up to date before
 * it is imported, and rebuilds it when its source changes while the dev server or `vitest` watches. A module that
 * cannot be built fails the import with a `StaleGeneratedModuleError` naming the source, with the build's diagnostics.
 *
 * ```ts
 * // vitest.config.ts
 * import { defineConfig } from 'vitest/config';
 * import { floxide } from 'floxide/vite';
 * export default defineConfig({ plugins: [floxide()] });
 * ```
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Plugin } from 'vite';
import { ensureGenerated, GENERATED_SPECIFIER, sourceOfGenerated, throwingModule } from '../regenerate.js';

export interface FloxideViteOptions {
  /** The tsconfig of the workflows (default: the nearest `tsconfig.json` above each source). */
  project?: string;
  /** Build stale modules (default `true`); `false` only checks them, reporting a missing or stale one. */
  regenerate?: boolean;
}

const ERROR_PREFIX = '\0floxide-stale:';

/** The plugin. Put it first in `plugins`. */
export function floxide(options: FloxideViteOptions = {}): Plugin {
  const failures = new Map<string, string>();
  const ensure = (generated: string) => ensureGenerated(generated, { regenerate: options.regenerate, project: options.project && path.resolve(options.project) });
  return {
    name: 'floxide',
    enforce: 'pre',
    async resolveId(source, importer) {
      const bare = source.split(/[?#]/)[0];
      if (!importer || !GENERATED_SPECIFIER.test(bare) || !(bare.startsWith('.') || path.isAbsolute(bare))) return null;
      const generated = path.resolve(path.dirname(importer.split(/[?#]/)[0]), bare);
      const fresh = await ensure(generated);
      if (fresh.ok) return null;
      const id = `${ERROR_PREFIX}${generated}`;
      failures.set(id, fresh.message);
      return id;
    },
    load(id) {
      const message = failures.get(id);
      return message === undefined ? null : throwingModule('floxide', message);
    },
    async watchChange(id) {
      // A source with a generated module next to it changed: rebuild it now, so the watcher then sees the module change.
      if (!/\.[cm]?tsx?$/.test(id) || /\.floxide\.[cm]?tsx?$/.test(id)) return;
      const generated = id.replace(/\.([cm]?)tsx?$/, '.floxide.$1ts');
      if (existsSync(generated) && sourceOfGenerated(generated) === id) await ensure(generated);
    },
  };
}
