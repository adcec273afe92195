/**
 * The plugin around tsserver's language service: adds floxide's diagnostics to `getSemanticDiagnostics`, its code
 * fixes to `getCodeFixesAtPosition`, and their codes to `getSupportedCodeFixes`. This module is light: the analysis
 * (ts-morph's compiler wing) is loaded only once a program contains floxide's decorators, so a project without
 * workflows pays nothing. Every hook falls back to the plain language service when anything goes wrong.
 */
import { createRequire } from 'node:module';
import type TS from 'typescript';
import { isFloxideDecoratorsFile } from '../../compiler/analyze/decorator-files.js';
import type { FloxideLanguageService, PluginOptions } from './language-service.js';

const require = createRequire(import.meta.url);

/** Whether a program contains floxide's decorator module (memoised per program: tsserver makes one per edit). */
const usesFloxide = new WeakMap<TS.Program, boolean>();
function programUsesFloxide(program: TS.Program): boolean {
  let uses = usesFloxide.get(program);
  if (uses === undefined) {
    uses = program.getSourceFiles().some((sf) => isFloxideDecoratorsFile(sf.fileName));
    usesFloxide.set(program, uses);
  }
  return uses;
}

/** The plugin factory tsserver calls with its own `typescript` module. */
export function createPluginModule(ts: typeof TS): TS.server.PluginModule {
  return {
    create(info) {
      const log = (msg: string) => info.project.projectService.logger.info(`floxide/ts-plugin: ${msg}`);
      const ls = info.languageService;
      let service: FloxideLanguageService | undefined;
      let disabled = false;
      /** The floxide service for the current program, or undefined while the program does not use floxide. */
      const floxide = (): FloxideLanguageService | undefined => {
        if (disabled) return undefined;
        const program = ls.getProgram();
        if (!program || !programUsesFloxide(program)) return undefined;
        if (!service) {
          const started = performance.now();
          const mod = require('./language-service.js') as typeof import('./language-service.js');
          const why = mod.incompatibility(ts);
          if (why) {
            disabled = true;
            log(`disabled: ${why}`);
            return undefined;
          }
          service = new mod.FloxideLanguageService(ts, info, (info.config ?? {}) as PluginOptions);
          log(`analysis loaded in ${Math.round(performance.now() - started)} ms`);
        }
        return service;
      };
      const guarded = <T>(what: string, plain: T, run: (s: FloxideLanguageService) => T): T => {
        try {
          const s = floxide();
          return s ? run(s) : plain;
        } catch (err) {
          log(`${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          return plain;
        }
      };

      const proxy: TS.LanguageService = Object.create(null);
      for (const key of Object.keys(ls) as Array<keyof TS.LanguageService>) {
        const member = ls[key];
        (proxy as unknown as Record<string, unknown>)[key] = typeof member === 'function' ? (...args: unknown[]) => (member as (...a: unknown[]) => unknown).apply(ls, args) : member;
      }
      const verbose = info.project.projectService.logger.hasLevel(ts.server.LogLevel.verbose);
      proxy.getSemanticDiagnostics = (fileName) => {
        const plain = ls.getSemanticDiagnostics(fileName);
        return guarded('diagnostics', plain, (s) => {
          const started = performance.now();
          const all = s.semanticDiagnostics(fileName, plain);
          if (verbose) log(`diagnostics of ${fileName}: ${all.length - plain.length} added in ${(performance.now() - started).toFixed(2)} ms`);
          return all;
        });
      };
      proxy.getCodeFixesAtPosition = (fileName, start, end, errorCodes, formatOptions, preferences) => {
        const plain = ls.getCodeFixesAtPosition(fileName, start, end, errorCodes, formatOptions, preferences);
        return guarded('code fixes', plain, (s) => [...plain, ...s.codeFixes(fileName, start, end, errorCodes)]);
      };
      proxy.getSupportedCodeFixes = (fileName) => {
        const plain = ls.getSupportedCodeFixes(fileName);
        return guarded('supported code fixes', plain, (s) => [...plain, ...s.supportedCodeFixes()]);
      };
      return proxy;
    },
  };
}
