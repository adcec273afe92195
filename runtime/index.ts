// The public runtime surface of `floxide`. Named exports only. Importing it loads no database driver, ts-morph or
// Graphviz: the durable stores come from their own entry points (`floxide/sqlite`, `floxide/redis`,
// `floxide/postgres`), which load their drivers lazily (see docs/ARCHITECTURE.md "Layers").
export { Transition } from './core/transition.js';
export type { Node, WorkflowCtx, FailureInfo, InputOf, OutputOf } from './core/node.js';
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
} from './graph/decorators.js';
export { fingerprintOf, graphShapeOf, canonicalShape, normalizeRetry, type GraphShape, type EdgeShape, type EdgeKind } from './graph/shape.js';
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
  type WorkflowSignalsOf,
  type WorkflowClassOf,
} from './graph/definition.js';
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
  SchemaMissingError,
  SchemaSetupError,
  PackageFileMissingError,
  InvalidArgumentError,
  RunStateError,
  RunBusyError,
  UnrecoverableError,
  WaitTimeoutError,
  PoisonItemError,
  SignalTimeoutError,
  InvalidSignalError,
  SignalRefusedError,
  SignalKeyConflictError,
  type SignalKeyConflict,
  type SignalKeyDifference,
  isSignalRefusal,
  EventsLostError,
  UnsupportedOperationError,
  InvalidScheduleError,
  ScheduleNotFoundError,
  MigrationBlockedError,
  type MigrationBlocker,
  MigrationChangedError,
  MissingDependencyError,
  serializeError,
  reviveError,
  type SerializedError,
} from './core/errors.js';
export { MemoryBackend, type MemoryBackendOptions } from './distributed/memory.js';
export {
  RUN_STATUSES,
  FINAL_RUN_STATUSES,
  isFinalRunStatus,
  readableRun,
  emptyMetrics,
  classifyLiveness,
  shouldDeadLetter,
  DEFAULT_LIVENESS_THRESHOLD_MS,
  supportsObservation,
  type RunObserver,
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
  type RunEnd,
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
  type PendingWorkOptions,
  type OutstandingStatus,
  type ContextDeltaRecord,
  type ContextSnapshot,
  type RunMetrics,
  type ErrorRecord,
  type DeadLetter,
  type WorkerHealth,
  type WorkerRecord,
  type Liveness,
  CATCH_UP_POLICIES,
  supportsSchedules,
  supportsMigration,
  supportsPurge,
  type FinishedRunPurger,
  type PurgeOptions,
  type RunMigrator,
  type RunMigration,
  type ParkedArrival,
  type CatchUpPolicy,
  type ScheduleStore,
  type ScheduleDefinition,
  type ScheduleRecord,
  type ScheduleAdvance,
  cursorAfter,
  type RunCursor,
  type ReleaseOptions,
  type BatchStepCommitter,
  type BatchCommitResult,
  type SignalReceiver,
  type SignalReceiverOptions,
} from './distributed/contracts.js';
export { scheduleRunId, scheduledRunOf, planTicks, SCHEDULE_DEFAULTS, MAX_CATCH_UP_LIMIT, type TickPlan } from './distributed/schedule-rules.js';
export { Scheduler, type SchedulerOptions, type SchedulerPass, type ScheduledStart, type ScheduleFailure } from './distributed/scheduler.js';
export { migratableBackend, type MigratableBackend } from './distributed/migratable.js';
export type { VersionMove, VersionMoves } from './engine/migration.js';
export type { RunOwner } from './stores/ownership.js';
export {
  START_ITEM_ID,
  assertRunId,
  assertWorkerId,
  assertKeyPrefix,
  assertItemId,
  childItemId,
  newRunId,
} from './core/ids.js';
// Context codec, engine, helper nodes, the bound workflow (runtime/context, runtime/engine, runtime/nodes, runtime/workflow).
export { EventLog, Fixed, type LoggedEvent } from './context/values.js';
export { contextCodecOf, createContextCodec, type ContextCodec, type ContextDelta } from './context/codec.js';
export { executeStep } from './engine/core.js';
export { settleJoinGroup, settlementItemJson, HELD_GROUP_NODE, JoinBook } from './engine/joins.js';
export { planCommit, noTerminalError, type CommitPlan, type CommitInput, type PlannedItem, type PlannedArrival } from './engine/commit.js';
export type { EngineItem, JoinFrame, JoinArrival, StepOutcome, StepEnv } from './engine/types.js';
export {
  WORKFLOW_EVENT_TYPES,
  isFinalEvent,
  stepRecordOf,
  type WorkflowEvent,
  type EventBase,
  type RunCreatedEvent,
  type StepStartedEvent,
  type StepFinishedEvent,
  type StepRetryEvent,
  type RunCompletedEvent,
  type RunFailedEvent,
  type RunCancelledEvent,
  type RunPausedEvent,
  type RunResumedEvent,
  type RunMigratedEvent,
  type WaitStartedEvent,
  type WaitTimedOutEvent,
  type SignalReceivedEvent,
  type TimerStartedEvent,
  type TimerFiredEvent,
  type LocalStepDetail,
  type LocalTransition,
  type StepOutcomeKind,
  type StepRecord,
  type StepHistoryEntry,
  type RetriedAttempt,
  type EventEnvelope,
  type SubscribeOptions,
  type EventsHeld,
  type EventSubscriber,
  type StepHistoryReader,
  type RunResult,
} from './engine/events.js';
export { EventFeed, type EventFeedOptions } from './engine/feed.js';
export { ATTR as SPAN_ATTRIBUTES, TRACER_NAME, type TracingOption, type TracingOptions } from './engine/tracing.js';
export { parseTraceparent, formatTraceparent, type TraceParent } from './core/trace-context.js';
export { bindWorkflow, type Workflow, type WorkflowOf, type RunOptions, type ResumeOptions, type RunHandle, type SignalOptions } from './workflow/bind.js';
export { backoffDelay, shouldRetry } from './engine/retry.js';
export { atTime, sleep, systemClock, type Clock } from './core/time.js';
export { AbortSource } from './engine/abort.js';
export { runBatch, BatchNode } from './nodes/batch.js';
export { SplitNode } from './nodes/split.js';
export { WaitFor, type WaitForOptions, type PayloadCheck, type PayloadInputOf, type SignalPayloadOf } from './nodes/wait.js';
export { Sleep, type SleepFor } from './nodes/sleep.js';
export { runSource, type Runnable } from './nodes/source.js';
export {
  type CheckpointStore,
  type Checkpoint,
  type CheckpointRun,
  type CheckpointStatus,
  type NewCheckpointRun,
  type CheckpointMigration,
  type CheckpointStepCommit,
  type CheckpointCommitResult,
  type CheckpointTerminalCommit,
  type CheckpointFailedStep,
  type SignalDelivery,
  type SignalReceipt,
  type PendingSignal,
} from './stores/contract.js';
export { MemoryCheckpointStore } from './stores/memory.js';
export { safeJsonParse, canonicalJson } from './core/json.js';
export { Worker, newWorkerId, DEFAULT_HANDOFF_LIMIT, type WorkerOptions, type WorkerStats } from './distributed/worker.js';
export { WorkerPool, type WorkerPoolOptions } from './distributed/pool.js';
export { Orchestrator, type RunInfo, type StartRunOptions, type OrchestratorOptions, type WaitOptions, type ScheduleOptions, type WorkflowLike } from './distributed/orchestrator.js';
export { connectBackend, type ConnectOptions } from './distributed/connect.js';
export { DEFAULT_LEASE_MS } from './distributed/lease.js';
export {
  DEFAULT_MAX_REDELIVERIES,
  type StepCallbacks,
  type ReleaseReason,
  type StartDistributedOptions,
  type StepDistributedOptions,
  type DistributedStepResult,
} from './distributed/execution.js';
