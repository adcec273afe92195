/**
 * Where the dashboard finds the graph of a run: the SVG files `floxide build --docs <dir>` writes, one
 * `<Workflow>.svg` per workflow (`<source path>.<Workflow>.svg` when two workflows share a name), each marked with the
 * graph version it draws; and, for a run of another version, the versions files `floxide build` keeps next to the
 * generated modules (`*.floxide.versions.json`), from whose record of that version the graph is drawn. `floxide ui
 * --graphs <dir...>` names the folders to look in (versions files also in their subfolders); the first folder
 * holding a file for the workflow wins. A run is never coloured on the graph of another version.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderSvg, svgVersion } from '../../compiler/docs.js';
import { dotOfVersion } from '../../compiler/emit/dot.js';
import { filesRecording, findRecordedVersion } from '../../compiler/versions/record.js';

/** The graph of a run's version, or why there is none. */
export type RunGraph =
  | {
      readonly svg: string;
      /** Said above the graph: where it was drawn from, when not from the build's SVG of the same version. */
      readonly note?: string;
    }
  | { readonly missing: string };

/** Finds and reads workflows' graphs in a list of folders (read on each request: a rebuild shows at once). */
export class GraphFiles {
  constructor(private readonly dirs: readonly string[]) {}

  /** The folders searched, in order. */
  get folders(): readonly string[] {
    return this.dirs;
  }

  /** The graph of version `version` of `workflow` (see the module comment). */
  async graphOf(workflow: string, version: string): Promise<RunGraph> {
    const built = await this.builtSvg(workflow);
    const builtVersion = built && svgVersion(built.svg);
    if (built && builtVersion === version) return { svg: built.svg };
    const recorded = await findRecordedVersion(this.dirs, workflow, version);
    if (recorded) {
      const svg = await renderSvg(dotOfVersion(workflow, recorded.version), version);
      const current = built && builtVersion ? `, not the current ${builtVersion} of ${built.file}` : '';
      return { svg, note: `The graph of this run's version ${version}${current}, drawn from ${recorded.file}.` };
    }
    if (built && builtVersion === undefined) {
      // an SVG of a build that did not mark its version: shown, with the doubt said
      return { svg: built.svg, note: `${built.file} does not say which graph version it draws (rebuild it with \`floxide build --docs\`): it may not be this run's version ${version}.` };
    }
    if (built) {
      const head = `${built.file} draws version ${builtVersion} of ${workflow}, and this run is of version ${version}, which`;
      // (the source folder is there and records the workflow, but not this version: pruned, or of another build)
      const recording = await filesRecording(this.dirs, workflow);
      if (recording.length > 0) {
        return { missing: `${head} ${recording.join(', ')} ${recording.length === 1 ? 'does' : 'do'} not record (\`floxide versions prune\` dropped it, or another build made it): add to --graphs a folder whose versions file records it (the release that built it)` };
      }
      return { missing: `${head} no *.floxide.versions.json in ${this.dirs.join(', ')} records: add the folder of ${workflow}'s source to --graphs` };
    }
    const where = this.dirs.length > 0 ? `no ${workflow}.svg in ${this.dirs.join(', ')}` : 'no --graphs folder was given';
    return { missing: `${where}: run \`floxide build --docs <dir>\` and start \`floxide ui --graphs <dir>\`` };
  }

  /** The SVG file of `workflow` that `floxide build --docs` wrote, from the first folder that has one. */
  private async builtSvg(workflow: string): Promise<{ file: string; svg: string } | undefined> {
    for (const dir of this.dirs) {
      const names = await namesIn(dir);
      const exact = `${workflow}.svg`;
      const name = names.includes(exact) ? exact : names.filter((n) => n.endsWith(`.${exact}`)).sort()[0];
      if (name) {
        const file = join(dir, name);
        return { file, svg: await readFile(file, 'utf8') };
      }
    }
    return undefined;
  }
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
