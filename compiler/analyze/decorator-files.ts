/**
 * Which files are floxide's own: its decorator module, and the declaration files it publishes. Kept apart from
 * `decorators.ts` (and free of ts-morph) so the `floxide/ts-plugin` can tell whether a program uses floxide at all
 * before it loads the analysis.
 */

/**
 * The JSDoc tag that marks a `@node()` class in floxide's published declarations (`dist/**\/*.d.ts`), where the
 * decorator itself is gone. Trusted only in floxide's own declaration files ({@link isFloxideDeclarationFile}).
 */
export const NODE_CLASS_TAG = 'floxideNode';

/** True when a file belongs to floxide: inside node_modules only the floxide package; outside, the checkout (or a path mapping to it). */
function isFloxidePackageFile(fileName: string): boolean {
  const nm = fileName.lastIndexOf('/node_modules/');
  return nm < 0 || fileName.startsWith('/node_modules/floxide/', nm);
}

/** True when a file is floxide's decorator module (source or published declaration). */
export function isFloxideDecoratorsFile(fileName: string): boolean {
  return /(^|\/)runtime\/graph\/decorators\.(d\.)?[cm]?ts$/.test(fileName) && isFloxidePackageFile(fileName);
}

/** True when a file is one of the declaration files floxide publishes (`dist/runtime/**\/*.d.ts`). */
export function isFloxideDeclarationFile(fileName: string): boolean {
  return /(^|\/)dist\/runtime\/.+\.d\.[cm]?ts$/.test(fileName) && isFloxidePackageFile(fileName);
}

/** The helper nodes that park their item, by the floxide file that declares them (`runtime/nodes/<file>`). */
export const PARKING_NODES = { WaitFor: 'wait', Sleep: 'sleep' } as const;

/** True when a file is floxide's declaration of helper node `file` (`runtime/nodes/wait.ts`, or its published `.d.ts`). */
export function isFloxideNodesFile(fileName: string, file: string): boolean {
  const m = /(^|\/)runtime\/nodes\/([a-z-]+)\.(d\.)?[cm]?ts$/.exec(fileName);
  return m !== null && m[2] === file && isFloxidePackageFile(fileName);
}

/** True when a file is floxide's context values module (`EventLog`, `Fixed`: source or published declaration). */
export function isFloxideValuesFile(fileName: string): boolean {
  return /(^|\/)runtime\/context\/values\.(d\.)?[cm]?ts$/.test(fileName) && isFloxidePackageFile(fileName);
}
