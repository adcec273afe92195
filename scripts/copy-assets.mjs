// Copies the runtime's non-TypeScript assets (Lua scripts, SQL files) and the dashboard's page (cli/ui/static) next to the compiled JavaScript in dist/,
// so `new URL('./lua/x.lua', import.meta.url)` finds them from both the sources and the build, and makes the CLI
// (the package's `bin`) executable: tsc writes it 0644, and `npx floxide` in this repository runs it directly
// (npm only sets a bin's mode when it links it, which a later rebuild of dist/ does not redo).
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const exts = ['.lua', '.sql', '.txt'];
let copied = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (exts.some((e) => name.endsWith(e))) {
      const out = join(root, 'dist', relative(root, p));
      mkdirSync(dirname(out), { recursive: true });
      cpSync(p, out);
      copied++;
    }
  }
}
for (const d of ['runtime', 'templates']) if (existsSync(join(root, d))) walk(join(root, d));
// The dashboard's page (floxide ui): served as is, so copied whole.
const page = join(root, 'cli', 'ui', 'static');
if (existsSync(page)) {
  cpSync(page, join(root, 'dist', 'cli', 'ui', 'static'), { recursive: true });
  copied += readdirSync(page).length;
}
const cli = join(root, 'dist', 'cli', 'cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
console.log(`copy-assets: ${copied} file(s) copied to dist/`);
