/**
 * Which file is floxide's decorator module. Kept apart from `decorators.ts` (and free of ts-morph) so the
 * `floxide/ts-plugin` can tell whether a program uses floxide at all before it loads the analysis.
 */

/** True when a file is floxide's decorator module (source or published declaration). */
export function isFloxideDecoratorsFile(fileName: string): boolean {
  if (!/(^|\/)runtime\/graph\/decorators\.(d\.)?[cm]?ts$/.test(fileName)) return false;
  // Inside node_modules only the floxide package counts; outside, the floxide checkout itself (or a path mapping to it).
  const nm = fileName.lastIndexOf('/node_modules/');
  return nm < 0 || fileName.startsWith('/node_modules/floxide/', nm);
}
