/**
 * A dump pinned to one CPU (taskset, a cpuset) shares it with V8's
 * background threads, its optimizing compiler and its collector's helpers,
 * which the scheduler gives slices of it: the busy send loop stalls 6-20 ms
 * at a time while V8 warms up. With `--single-threaded` V8 does that work on
 * the main thread, between the loop's own steps. Measured here with the
 * client pinned: the first 16 MiB of a fast dump in 162-190 ms instead of
 * 205-215, and 256 MiB fast dumps into our server 8-18 % faster. It is a
 * flag V8 reads at start-up (set later with v8.setFlagsFromString it
 * changed nothing), so the CLI starts itself again with it.
 *
 * The optimizing compiler's work then stalls the loop instead: 120-160 ms
 * of it in a 256 MiB fast dump, mostly in its first 0.4 s, the server idle
 * meanwhile. Most of that is recompiling the same code: a small function is
 * compiled when it gets hot, then again inside each caller that inlines it.
 * The copy is started with a smaller budget for what one function inlines
 * (V8's default 920 bytes of bytecode): the small accessors are still
 * inlined, the larger steps of the loop are called. Twelve alternating
 * pairs of 256 MiB dumps into the minimal C server: the compiles in the
 * data stage 123 ms against 147 (V8's log, one pair), the server's waits of 1 ms or
 * more 100-125 ms against 145-229, fast faster in 9 pairs (median +4.4 %;
 * -17 % to +30 % where a slow spell of this machine fell on one side);
 * into our server, where the client's own speed counts more, eight pairs
 * within the noise (medians 291 MB/s with it, 296 without).
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const FLAG = '--single-threaded';
/** Started with FLAG: see above. */
const SMALLER_INLINING = '--max-inlined-bytecode-size-cumulative=150';
/** The dump's stop signals (native/stop-signals.ts): sent to us, they are meant for the copy. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Whether V8 runs without background threads in this process. */
export const singleThreaded = (): boolean => process.execArgv.includes(FLAG);

/** Whether this process may use one CPU only and V8 still has its background threads. */
export function wantsSingleThreaded(): boolean {
  return availableParallelism() === 1 && !singleThreaded();
}

/**
 * Runs this command again under --single-threaded (and the smaller inlining budget), with the same standard
 * streams, passing the stop signals on; then ends as the copy ended: of its
 * signal, or with its status. `fail` reports a copy that cannot start.
 */
export function relaunchSingleThreaded(fail: (message: string) => never): Promise<never> {
  const args = [FLAG, SMALLER_INLINING, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)];
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of FORWARDED) process.on(signal, forward);
  return new Promise(() => {
    child.once('error', (error) => fail(`cannot start again with ${FLAG}: ${error.message}`));
    child.once('exit', (code, signal) => {
      for (const forwarded of FORWARDED) process.off(forwarded, forward);
      if (signal !== null) process.kill(process.pid, signal);
      process.exit(code ?? 1);
    });
  });
}
