import { runAllModes, runJournalInAllModes } from './modes.js';

console.log(JSON.stringify({ words: await runAllModes(process.argv[2] ?? 'a bb ccc'), journal: await runJournalInAllModes(process.argv[3] ?? 'x') }));
