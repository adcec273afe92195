// The public compiler surface of `floxide/compiler`. Named exports only.
export { analyzeProject, analyzeSourceFile, Analyzer, ProgramAnalysis, shapeOfModel, type AnalyzeOptions, type AnalysisResult, type FileAnalysis } from './analyze/index.js';
export { formatDiagnostics, sortDiagnostics, diagnostic, DIAGNOSTIC_CODES, type DiagnosticCode, type DiagnosticCodeInfo, type FormatOptions } from './diagnostics.js';
export {
  FLOW_MODEL_VERSION,
  type FlowModel,
  type WorkflowModel,
  type NodeModel,
  type EdgeModel,
  type ContextFieldModel,
  type ClassRef,
  type ContextRef,
  type Position,
  type Diagnostic,
  type DiagnosticFix,
  type TextEdit,
  type LineColumn,
  type Severity,
} from './model.js';
export { generatedModuleFreshness, type ModuleFreshness } from './freshness.js';
// Emitters, writer and build (the functions behind `floxide build` and `floxide graph`; the bin lives in cli/).
export { dotOf, mermaidOf, emitWorkflow, type Emitted, type ImportSpec, type ModuleRef } from './emit/index.js';
export { renderModule, renderModules, generatedFileName, generatedPathFor, type OutputLayout, type OutputFile, type GeneratedModule } from './render.js';
export { writeOutputs, type WriteResult } from './writer.js';
export { buildProject, buildFromAnalysis, ExitCode, type BuildOptions, type BuildResult } from './build.js';
export { watchProject, type WatchHandle } from './watch.js';
export { formatBuildResult, type BuildReport } from './report.js';
export { renderDocs, renderSvg } from './docs.js';
export { graphOf, type GraphOptions } from './graph.js';
// Versions on record and migration of checkpointed runs between them (`floxide runs migrate`).
export { readRecord, type VersionsRecord, type GraphVersion, type VersionNode } from './versions/record.js';
export { migrateRun, planMigration, blockingLines, type MigrateRunOptions, type MigrationPlan, type BlockingItem, type PendingWork, type MigratableStore } from './versions/migrate.js';
