/**
 * DeployFlow's versions on record (test/fixtures/distributed), as successive builds of one source file keep them: 1 and
 * 2 ({@link deployRecord}), 1 and 3 ({@link deployRecordV3}, version 3 accepting version 1); ParkFlow's 1 and 2
 * ({@link parkRecord}).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { VersionsRecord } from '../../compiler/versions/record.js';

const fixtures = path.resolve(__dirname, '../fixtures/distributed');
const versionsOf = (f: string, workflow = 'DeployFlow') => (JSON.parse(readFileSync(path.join(fixtures, f), 'utf8')) as VersionsRecord).workflows[workflow]!;

export const deployRecord = { format: 1, workflows: { DeployFlow: [...versionsOf('deploy-v1.floxide.versions.json'), ...versionsOf('deploy-v2.floxide.versions.json')] } } as VersionsRecord;

export const deployRecordV3 = { format: 1, workflows: { DeployFlow: versionsOf('deploy-v3.floxide.versions.json') } } as VersionsRecord;

export const parkRecord = { format: 1, workflows: { ParkFlow: [...versionsOf('park-v1.floxide.versions.json', 'ParkFlow'), ...versionsOf('park-v2.floxide.versions.json', 'ParkFlow')] } } as VersionsRecord;
