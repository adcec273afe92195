// The public runtime surface of `floxide`. Named exports only.
export { Transition } from './transition.js';
export type { Node, WorkflowCtx, FailureInfo, InputOf, OutputOf } from './node.js';
export {
  node,
  workflow,
  edge,
  retry,
  timeout,
  join,
  merge,
  workflowMetaOf,
  isNodeClass,
  mergeStrategiesOf,
  type RetryOptions,
  type WorkflowOptions,
  type WorkflowMeta,
  type FieldMeta,
  type MergeStrategyName,
  type CustomMerge,
} from './decorators.js';
export { fingerprintOf, graphShapeOf, canonicalShape, normalizeRetry, type GraphShape, type EdgeShape, type EdgeKind } from './graph.js';
export {
  defineWorkflow,
  unknownWorkItem,
  type WorkflowDef,
  type AnyWorkflowDef,
  type NodeSpec,
  type BranchSpec,
  type NodeExecutor,
  type WorkItemBase,
  type NormalizedRetry,
  type WorkflowInputOf,
  type WorkflowOutputOf,
  type WorkflowContextOf,
  type WorkItemOf,
} from './definition.js';
export {
  FloxideError,
  CancelledError,
  DeadlineExceededError,
  NodeTimeoutError,
  NodeFailedError,
  NoTerminalReachedError,
  RunNotFoundError,
  RunAlreadyCompletedError,
  RunInputMismatchError,
  FingerprintMismatchError,
  StaleGeneratedModuleError,
  CorruptStateError,
  StoreError,
  InvalidArgumentError,
  RunStateError,
  UnrecoverableError,
  WaitTimeoutError,
  PoisonItemError,
  serializeError,
  reviveError,
  type SerializedError,
} from './errors.js';
export { MemoryBackend, type MemoryBackendOptions } from './distributed/memory.js';
export { RedisBackend, DEFAULT_REDIS_KEY_PREFIX, DEFAULT_RETAIN_FINISHED_MS, type RedisBackendOptions } from './distributed/redis/backend.js';
export { PostgresBackend, type PostgresBackendOptions, type PurgeOptions } from './distributed/postgres/backend.js';
export { DEFAULT_POSTGRES_SCHEMA, POSTGRES_MIGRATIONS, assertSchemaName } from './distributed/postgres/migrate.js';
export {
  FINAL_RUN_STATUSES,
  isFinalRunStatus,
  emptyMetrics,
  classifyLiveness,
  shouldDeadLetter,
  DEFAULT_LIVENESS_THRESHOLD_MS,
  type DistributedBackend,
  type WorkQueue,
  type ContextStore,
  type RunInfoStore,
  type MetricsStore,
  type ErrorStore,
  type LivenessStore,
  type WorkItemStateStore,
  type StepCommitter,
  type StepCommit,
  type CommitResult,
  type RunStatus,
  type RunRecord,
  type NewRun,
  type CreateRunResult,
  type ListRunsFilter,
  type RunTransition,
  type DropReason,
  type DroppedItem,
  type WorkItemStatus,
  type WorkItemState,
  type LeasedItem,
  type ClaimOptions,
  type LeaseExtension,
  type PendingWork,
  type ContextDeltaRecord,
  type ContextSnapshot,
  type RunMetrics,
  type ErrorRecord,
  type DeadLetter,
  type WorkerHealth,
  type WorkerRecord,
  type Liveness,
} from './distributed/contracts.js';
export {
  START_ITEM_ID,
  assertRunId,
  assertWorkerId,
  assertKeyPrefix,
  assertItemId,
  childItemId,
  newRunId,
} from './distributed/ids.js';
// Local engine, context codec and checkpoint stores (runtime/engine, runtime/context.ts, runtime/stores).
export {
  EventLog,
  Fixed,
  contextCodecOf,
  createContextCodec,
  type ContextCodec,
  type LoggedEvent,
} from './context.js';
export {
  executeStep,
  joinItemFor,
  type EngineItem,
  type JoinFrame,
  type JoinArrival,
  type ContextDelta,
  type StepOutcome,
  type StepEnv,
} from './engine/step.js';
export { settleJoinGroup, JoinBook, type WorkflowEvent, type RunResult } from './engine/core.js';
export { bindWorkflow, type Workflow, type WorkflowOf, type RunOptions, type ResumeOptions } from './engine/workflow.js';
export { backoffDelay, shouldRetry, sleep } from './engine/retry.js';
export { AbortSource } from './engine/abort.js';
export { runBatch, BatchNode, SplitNode, runSource, type Runnable } from './engine/helpers.js';
export {
  type CheckpointStore,
  type Checkpoint,
  type CheckpointRun,
  type CheckpointStatus,
  type NewCheckpointRun,
  type CheckpointStepCommit,
  type CheckpointCommitResult,
  type CheckpointTerminalCommit,
} from './stores/contract.js';
export { MemoryCheckpointStore } from './stores/memory.js';
export { SqliteCheckpointStore, SQLITE_MIGRATIONS, type SqliteCheckpointStoreOptions } from './stores/sqlite.js';
export { safeJsonParse, canonicalJson } from './json.js';
export { Worker, newWorkerId, DEFAULT_HANDOFF_LIMIT, type WorkerOptions, type WorkerStats } from './distributed/worker.js';
export { WorkerPool, type WorkerPoolOptions } from './distributed/pool.js';
export { Orchestrator, type RunInfo, type StartRunOptions, type WaitOptions } from './distributed/orchestrator.js';
export { connectBackend, type ConnectOptions } from './distributed/connect.js';
export {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_REDELIVERIES,
  type StepCallbacks,
  type ReleaseReason,
  type StartDistributedOptions,
  type StepDistributedOptions,
  type DistributedStepResult,
} from './distributed/execution.js';
