// Opens the store named on the command line with connectBackend: bundled with floxide inlined
// (test/package/installed.test.ts), floxide's own SQL and Lua files are not beside the bundle.
import { connectBackend } from 'floxide';

const backend = await connectBackend(process.argv[2] ?? '');
await backend.close();
console.log('connected');
