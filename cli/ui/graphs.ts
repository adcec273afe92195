/**
 * Where the dashboard finds a workflow's graph: the SVG files `floxide build --docs <dir>` writes, one
 * `<Workflow>.svg` per workflow (`<source path>.<Workflow>.svg` when two workflows share a name). `floxide ui
 * --graphs <dir>` names the folders to look in; the first folder holding a file for the workflow wins.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Finds and reads workflows' SVG graphs in a list of folders (read on each request: a rebuild shows at once). */
export class GraphFiles {
  constructor(private readonly dirs: readonly string[]) {}

  /** The folders searched, in order. */
  get folders(): readonly string[] {
    return this.dirs;
  }

  /** The SVG text of `workflow`'s graph, or undefined when no folder has one. */
  async svgOf(workflow: string): Promise<string | undefined> {
    for (const dir of this.dirs) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      const exact = `${workflow}.svg`;
      const name = names.includes(exact) ? exact : names.filter((n) => n.endsWith(`.${exact}`)).sort()[0];
      if (name) return readFile(join(dir, name), 'utf8');
    }
    return undefined;
  }
}
