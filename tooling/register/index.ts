/**
 * `floxide/register`: `node --import floxide/register app.js` (or `tsx --import floxide/register app.ts`) installs a
 * module hook that brings each generated module (`./x.floxide.js`) up to date before it is imported, running
 * `floxide build` on its source when the source changed since the last check. A module that cannot be built (the
 * workflow has errors), or is missing or stale while regeneration is off (`FLOXIDE_REGENERATE=0`: modules are only
 * checked), fails the import with a `StaleGeneratedModuleError` that names the source and prints the diagnostics,
 * instead of Node's bare `ERR_MODULE_NOT_FOUND`. Compiled output (`dist/x.floxide.js`) is only checked: rebuilding it
 * takes tsc.
 */
import { register } from 'node:module';

register('./hooks.js', import.meta.url, { data: { regenerate: process.env.FLOXIDE_REGENERATE !== '0' } });
