/**
 * `floxide/ts-plugin`: the TypeScript language-service plugin, enabled in a tsconfig with
 * `"plugins": [{ "name": "floxide/ts-plugin" }]`. tsserver loads plugins with `require`, so this entry is CommonJS;
 * it loads the plugin (an ES module, through Node's `require` of ES modules) and never lets a failure reach
 * tsserver: a plugin that cannot start logs why and leaves the language service as it was.
 */
import type * as TS from 'typescript';

type PluginModule = TS.server.PluginModule;

function init(modules: { typescript: typeof TS }): PluginModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createPluginModule } = require('./plugin.js') as typeof import('./plugin.js');
    return createPluginModule(modules.typescript);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      create(info) {
        info.project.projectService.logger.info(`floxide/ts-plugin: not started (needs Node >= 20.19 to load ES modules with require): ${why}`);
        return info.languageService;
      },
    };
  }
}

export = init;
