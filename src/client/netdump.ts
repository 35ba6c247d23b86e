/**
 * One whole dump, as the FreeBSD kernel runs it: driver start event, ARP,
 * HERALD, (13+: EKCD key), VMCORE data through the dumper (dumper.ts), KDH, (12.x:
 * EKCD key), FINISHED, driver end event. Message order per spec §1.2;
 * console text per the kernel's printfs.
 */
import { performance } from 'node:perf_hooks';

import type { NetdumpDriver } from '../../drivers/driver.js';
import type { DumpSource } from '../dump/source.js';
import { NetdumpError } from '../../errors/index.js';
import { resolveNextHop } from '../net/arp-resolver.js';
import { DumpZones } from '../net/dump-zones.js';
import { POLL_DELAY_US, type Delay } from '../net/behaviour.js';
import { NetStack, type NetConfig } from '../net/stack.js';
import {
  formatIpv4Address,
  formatMac,
  NETDUMP_EKCD_KEY,
  NETDUMP_FINISHED,
  NETDUMP_HERALD,
  NETDUMP_PORT,
  NETDUMP_KDH,
  NETDUMP_VMCORE,
} from '../wire/index.js';
import type { SendObserver } from './observer.js';
import { maxPayload, type Profile } from './profile.js';
import { KernelProgress, type LiveProgress } from './progress.js';
import { BatchTimes, type BatchTimeSummary } from './batch-times.js';
import { batchingOf, dumpWrites, expectedBatches, type Batching, type DataProgress } from './dumper.js';
import { packetsPerBatch, ReliableSender, type SenderStats } from './sender.js';
import { PipelinedSender, type WindowReport } from './pipelined-sender.js';

export interface ClientSettings {
  profile: Profile;
  /** net.netdump.polls (default 2000). */
  polls: number;
  /** net.netdump.retries (default 10). */
  retries: number;
  /** net.netdump.arp_retries (default 3). */
  arpRetries: number;
  /** net.netdump.path: the herald's path, if any. */
  path?: string;
  ackBugCompat: boolean;
  /** Send MTU − 52 bytes per packet under 13+ even above 4096 (netdumpd refuses them). */
  allowPayloadOver4096: boolean;
  debug: boolean;
  /** The kernel's console. */
  print: (text: string) => void;
  /** The kernel's DELAY() (native/delayMicroseconds; a test may count instead). */
  delay: Delay;
  /** A monotonic clock in µs for the fast profile's window and the batch times (native/monotonicMicros allocates nothing); performance.now() if not given. */
  clock?: () => number;
  /** Whether the user gave a gateway (13+ says "searching for gateway MAC" then). */
  gatewayGiven: boolean;
  /** Told of the send loop's batches, ticks, acks, resends and retransmit rounds (the tracer). */
  observer?: SendObserver;
  /** Shown instead of the kernel's "..N%" marks (a terminal's progress bar). */
  liveProgress?: LiveProgress;
  /** Told the server's port for this dump once the herald's ack gave one of its own, not 20023 (the CLI's host socket connects to it). */
  serverPortFound?: (port: number) => void;
}

export interface DumpContent {
  source: DumpSource;
  /**
   * The 512-byte kerneldumpheader, sent after the data; or what builds it
   * then, for a header that depends on the data sent (a compressed dump's
   * dumplength).
   */
  kdh: Uint8Array | (() => Uint8Array);
  /** The padded kerneldumpkey blob of an encrypted dump. */
  key?: Uint8Array;
  /** Physical memory in MiB, for "Dumping N out of M MB:". */
  physicalMemoryMiB?: number;
}

export type FailureStage = 'arp' | 'herald' | 'data' | 'finished';

/** A dump that failed where the kernel's would; `stage` picks the exit status. */
export class DumpFailure extends NetdumpError {
  constructor(
    readonly stage: FailureStage,
    cause: NetdumpError,
  ) {
    super(cause.code, cause.message, cause.errno);
  }
}

export interface DumpReport extends SenderStats {
  /** Dump bytes sent as VMCORE. */
  bytes: number;
  /** From the herald's ack to FINISHED's (which waits for the server's fsync). */
  seconds: number;
  /** The VMCORE phase alone: its seconds, batches and polls (what time per batch is measured on). */
  dataSeconds: number;
  dataBatches: number;
  dataPolls: number;
  /**
   * The VMCORE batches' times: send call to last ack in the kernel's loop;
   * in the fast profile's window, send call to its last packet in flight (its acks come later).
   */
  dataBatchMicros: BatchTimeSummary;
  nextHopMac: string;
  serverPort: number;
  payloadBytes: number;
  /** The fast profile's window: what it resent and why, its sizes, the round trip. */
  window?: WindowReport;
}

/** FreeBSD's errno numbers, for "** DUMP FAILED (ERROR n) **". */
const FREEBSD_ERRNO: Record<string, number> = { ETIMEDOUT: 60, ENOBUFS: 55, EBUSY: 16, ENETDOWN: 50, EMSGSIZE: 40, EINVAL: 22 };

function asNetdumpError(error: unknown): NetdumpError {
  if (error instanceof NetdumpError) return error;
  throw error;
}

export function runNetdump(driver: NetdumpDriver, config: NetConfig, settings: ClientSettings, content: DumpContent): DumpReport {
  const { profile, print } = settings;
  const payloadBytes = maxPayload(profile, config.mtu, settings.allowPayloadOver4096);
  // 12.x with no gateway uses the server as its gateway (netdump_start); 13+ leaves it unset.
  const gatewayIp = config.gatewayIp === 0 && profile.serverIsDefaultGateway ? config.serverIp : config.gatewayIp;
  const stack = new NetStack(
    driver,
    { ...config, gatewayIp },
    { behaviour: profile, delay: settings.delay, print, debug: settings.debug },
    new DumpZones(driver.init()),
  );
  const sender = new ReliableSender(stack, {
    polls: settings.polls,
    retries: settings.retries,
    maxPayload: payloadBytes,
    ackBugCompat: settings.ackBugCompat,
    ackFunctionName: profile.subsystem === 'netdump' ? 'netdump_handle_ip' : 'debugnet_handle_ack',
    print,
    observer: settings.observer,
  });
  driver.event('start');
  // The dump's mbuf zones replace the system's, and 13+ puts them back when the connection closes, however it ends.
  print(`${profile.subsystem}: overwriting mbuf zone pointers\n`);
  try {
    connect(stack, sender, settings);
    const started = process.hrtime.bigint();
    print(`netdumping to ${formatIpv4Address(config.serverIp)} (${formatMac(stack.nextHopMac!)})\n`);
    if (content.key !== undefined && profile.keyBeforeData) sendStage('data', () => sender.send(NETDUMP_EKCD_KEY, 0, content.key!));
    const before = { ...sender.stats, at: process.hrtime.bigint() };
    const batching = batchingOf(profile, payloadBytes);
    const batchTimes = new BatchTimes(expectedBatches(content.source, batching), microsClock(settings));
    const vmcoreSender = dataSender(stack, sender, settings, payloadBytes);
    const bytes = sendData(vmcoreSender, settings, content, batching, batchTimes);
    const data = {
      window: vmcoreSender.window,
      dataBatchMicros: batchTimes.summary(),
      dataSeconds: Number(process.hrtime.bigint() - before.at) / 1e9,
      dataBatches: sender.stats.batches - before.batches,
      dataPolls: sender.stats.polls - before.polls,
    };
    const kdh = typeof content.kdh === 'function' ? content.kdh() : content.kdh;
    sendStage('data', () => sender.send(NETDUMP_KDH, 0, kdh));
    if (content.key !== undefined && !profile.keyBeforeData) sendStage('data', () => sender.send(NETDUMP_EKCD_KEY, 0, content.key!));
    sendStage(
      'finished',
      () => sender.send(NETDUMP_FINISHED, 0, new Uint8Array(0)),
      () => print('failed to close the transaction\n'),
    );
    print('\nnetdump finished.\n');
    restoreZones(profile, print);
    // minidumpsys, once the dumper is done.
    print('\nDump complete\n');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      ...sender.stats,
      ...data,
      bytes,
      seconds,
      nextHopMac: formatMac(stack.nextHopMac!),
      serverPort: stack.serverPort,
      payloadBytes,
    };
  } catch (error) {
    // A user's stop (EINTR) is not the kernel's ending: it says nothing more.
    if (!(error instanceof NetdumpError && error.code === 'EINTR')) restoreZones(profile, print);
    throw error;
  } finally {
    driver.event('end');
  }
}

/** debugnet_mbuf_finish, when 13+'s connection is freed; 12.x's netdump prints nothing then. */
function restoreZones(profile: Profile, print: (text: string) => void): void {
  if (profile.subsystem === 'debugnet') print('debugnet: restoring mbuf zone pointers\n');
}

function sendStage(stage: FailureStage, action: () => void, onFailure: (error: NetdumpError) => void = () => undefined): void {
  try {
    action();
  } catch (error) {
    const failure = asNetdumpError(error);
    // EINTR is the user stopping us (src/cli/stopping-driver.ts), not the kernel failing: it has no console message.
    if (failure.code !== 'EINTR') onFailure(failure);
    throw new DumpFailure(stage, failure);
  }
}

/** ARP and HERALD, with each kernel's console messages (spec §3.1). */
function connect(stack: NetStack, sender: ReliableSender, settings: ClientSettings): void {
  const { profile, print } = settings;
  const freebsd12 = profile.subsystem === 'netdump';
  print(
    freebsd12
      ? 'netdump in progress. searching for server...\n'
      : `debugnet_connect: searching for ${settings.gatewayGiven ? 'gateway' : 'server'} MAC...\n`,
  );
  sendStage(
    'arp',
    () => resolveNextHop(stack, { arpRetries: settings.arpRetries, polls: settings.polls, behaviour: profile, print }),
    () => print(freebsd12 ? 'failed to locate server MAC address\n' : 'debugnet_connect: failed to locate MAC address\n'),
  );
  const herald = settings.path ? new TextEncoder().encode(`${settings.path}\0`) : new Uint8Array(0);
  sendStage(
    'herald',
    () => sender.send(NETDUMP_HERALD, 0, herald),
    () => print(freebsd12 ? 'failed to contact netdump server\n' : 'debugnet_connect: failed to herald debugnet server\n'),
  );
  // 12.x takes the port from each ack while it is still 20023: only another port is the server's for good.
  if (stack.serverPort !== NETDUMP_PORT) settings.serverPortFound?.(stack.serverPort);
}

/** How VMCORE batches go: each through the kernel's loop, or into the fast profile's window. */
interface DataSender {
  stats: SenderStats;
  /** Sends one batch (the kernel's loop: until acked; the window: until in flight). */
  send(offset: number, data: Uint8Array): void;
  /** Waits for every ack of the data. */
  finish(): void;
  window?: WindowReport;
}

function dataSender(stack: NetStack, sender: ReliableSender, settings: ClientSettings, payloadBytes: number): DataSender {
  if (settings.profile.sendLoop === 'kernel') {
    return { stats: sender.stats, send: (offset, data) => sender.send(NETDUMP_VMCORE, offset, data), finish: () => undefined };
  }
  const pipeline = new PipelinedSender(
    stack,
    {
      maxPayload: payloadBytes,
      initialWindow: packetsPerBatch(payloadBytes),
      giveUpMicros: (settings.retries + 2) * (settings.polls + 1) * POLL_DELAY_US,
      now: microsClock(settings),
      observer: settings.observer,
    },
    sender.stats,
  );
  pipeline.begin(sender.seqno);
  return {
    stats: sender.stats,
    send: (offset, data) => pipeline.send(offset, data),
    finish() {
      pipeline.drain();
      sender.seqno = pipeline.next >>> 0; // the kernel's seqno is 32 bits; the window counts on
    },
    window: pipeline.report,
  };
}

const microsClock = (settings: ClientSettings): (() => number) => settings.clock ?? (() => performance.now() * 1000);

/** The data stage: the dumper's writes as VMCORE batches, timed, with the progress shown until it ends, however it ends. */
function sendData(sender: DataSender, settings: ClientSettings, content: DumpContent, batching: Batching, times: BatchTimes): number {
  const progress = startProgress(settings, content, sender.stats);
  const sayFailed = dumpFailed(settings);
  // The progress ends where the dump did, and the kernel's failure line comes after it.
  const failed = (error: NetdumpError) => {
    progress.stop();
    sayFailed(error);
  };
  const send = (offset: number, data: Uint8Array) => {
    times.start();
    sendStage('data', () => sender.send(offset, data), failed);
    times.stop();
  };
  try {
    const bytes = dumpWrites(content.source, batching, send, progress);
    sendStage('data', () => sender.finish(), failed);
    return bytes;
  } finally {
    progress.stop();
  }
}

/** "Dumping N out of M MB:" and the progress after it: the kernel's marks, or the live view when there is one. */
function startProgress(settings: ClientSettings, content: DumpContent, stats: SenderStats): DataProgress {
  const total = content.source.length;
  const opening = `Dumping ${Math.floor(total / 2 ** 20)} out of ${content.physicalMemoryMiB ?? Math.ceil(total / 2 ** 20)} MB:`;
  const live = settings.liveProgress;
  if (live !== undefined) {
    live.start(opening, total);
    return { counted: (done) => live.update(done, stats.retransmittedPackets), stop: () => live.stop() };
  }
  settings.print(opening);
  const kernel = new KernelProgress(total, settings.print);
  let counted = 0;
  return {
    counted(done) {
      kernel.countWrite(done - counted);
      counted = done;
    },
    stop: () => undefined,
  };
}

function dumpFailed(settings: ClientSettings): (error: NetdumpError) => void {
  return (error) => settings.print(`\n** DUMP FAILED (ERROR ${FREEBSD_ERRNO[error.code] ?? 5}) **\n`);
}
