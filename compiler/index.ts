// The public compiler surface of `floxide/compiler`. Named exports only.
export { analyzeProject, Analyzer, shapeOfModel, type AnalyzeOptions, type AnalysisResult } from './analyze/index.js';
export { formatDiagnostics, sortDiagnostics, diagnostic, DIAGNOSTIC_CODES, type DiagnosticCode, type DiagnosticCodeInfo, type FormatOptions } from './diagnostics.js';
export {
  FLOW_MODEL_VERSION,
  type FlowModel,
  type WorkflowModel,
  type NodeModel,
  type EdgeModel,
  type ContextFieldModel,
  type ClassRef,
  type Position,
  type Diagnostic,
  type Severity,
} from './model.js';
