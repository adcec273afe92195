import { runAllModes } from './modes.js';

console.log(JSON.stringify(await runAllModes(process.argv[2] ?? 'a bb ccc')));
