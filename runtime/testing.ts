// `floxide/testing`: a test kit for your own workflows (docs/testing.md). Crash a run at every step boundary and
// check that resuming it changes nothing, and drive retries, timeouts and deadlines on virtual time. Only this
// subpath loads it: importing `floxide` does not.
export { VirtualClock, type VirtualClockOptions } from './testing/clock.js';
export { crashAtEveryStep, describeCrash, CrashTestError, SimulatedCrash } from './testing/crash.js';
export {
  type CrashTest,
  type CrashSignal,
  type CrashScenario,
  type CrashOptions,
  type CrashPoint,
  type CrashRunResult,
  type CrashFailure,
  type CrashTestReport,
} from './testing/crash-test.js';
