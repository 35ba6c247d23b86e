#!/usr/bin/env node
/**
 * netdump: send a kernel dump to a netdumpd server from a spare interface,
 * over our own Ethernet/ARP/IPv4/UDP, with the FreeBSD kernel's algorithm.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { FrameBackend } from '../../drivers/backend.js';
import type { NetdumpDriver } from '../../drivers/driver.js';
import { HeldHostPort } from '../../drivers/host-ack-port.js';
import { FaultInjectingDriver, parseFaultPlan, type FaultCounts, type FaultPlan } from '../../drivers/middleware/fault-injector.js';
import { PcapWritingDriver } from '../../drivers/middleware/pcap-writer.js';
import { TracingDriver } from '../../drivers/middleware/tracer.js';
import { delayMicroseconds, monotonicMicros, signalName, StopSignals } from '../../native/index.js';
import {
  BACKENDS,
  createDriver,
  DEFAULT_BACKEND,
  isBackendName,
  isShimName,
  openBackend,
  SHIMS,
  type BackendName,
} from '../../drivers/select.js';
import type { WindowReport } from '../client/pipelined-sender.js';
import { maxPayload, PROFILES, type Profile } from '../client/profile.js';
import { DumpFailure, runNetdump, type DumpContent, type DumpReport } from '../client/netdump.js';
import type { SendObserver } from '../client/observer.js';
import { POLL_DELAY_US } from '../net/behaviour.js';
import { chunkCompressor, CompressedDumpSource, compressionRefusal, type ChunkCompressor, type CompressionName } from '../dump/compress.js';
import { buildDumpHeader } from '../dump/kdh.js';
import { createEkcdKey, defaultEncryption, EncryptedDumpSource } from '../dump/ekcd.js';
import { openFileDumpSource } from '../dump/file-source.js';
import type { DumpSource } from '../dump/source.js';
import { minimumMinidumpSize, SyntheticMinidump } from '../dump/minidump.js';
import { errorCodeOf, NetdumpError } from '../../errors/index.js';
import { describeArgumentError, usageLines } from './argument-errors.js';
import { relaunchSingleThreaded, singleThreaded, wantsSingleThreaded } from './single-threaded.js';
import { TerminalProgress } from './terminal-progress.js';
import { versionLine } from './version.js';
import { DUMP_TOOLS_USAGE, isDumpTool, runDumpTool } from './dump-tools.js';
import { parseSize } from './size.js';
import { StoppingDriver } from './stopping-driver.js';
import { isLocalAddress, lookUpRouteFacts } from '../net/inference.js';
import { KERNELDUMP_ENC_AES_256_CBC, KERNELDUMP_ENC_CHACHA20, NETDUMP_ACKPORT, NETDUMP_DATASIZE, parseIpv4Address } from '../wire/index.js';

const USAGE = `usage: netdump [-s server] [-c client] [-g gateway] [-p path] [options] iface [dumpfile]

Sends a kernel dump to a netdumpd server the way a panicking FreeBSD kernel
does, from a spare interface that this program owns at the Ethernet level
(raw frames: run as root). The dump is dumpfile, or a synthetic amd64
minidump with --synthetic.

  -s server          the netdumpd server's IPv4 address (required)
  -c client          our IPv4 address (default: the interface's address)
  -g gateway         next-hop router to the server (default: the gateway of
                     the route to the server, if it leaves by iface)
  -p path            directory on the server, relative to its dump directory
  -k pubkey          encrypt the dump (EKCD) for this RSA public key (PEM);
                     the server stores the wrapped key as key.<host>.<N>
  -C cipher          chacha20 (13+ default) or aes256-cbc (12.x: the only one)
  -z                 compress the dump with gzip, as dumpon -z (the server
                     stores vmcore.<host>.<N>.gz); with -k only for 13+ and
                     chacha20, as the kernel allows
  -Z                 compress the dump with zstd, as dumpon -Z (.zst)
  --synthetic SIZE   dump a synthetic minidump of SIZE bytes (K, M, G
                     suffixes; a multiple of 4096) instead of a file
  --profile NAME     freebsd13 (default) or freebsd12: message order, payload
                     size, write coalescing, ARP and ack rules of that kernel;
                     or fast: a 13+ dump whose data keeps a window of packets
                     in flight across batches and resends single packets on
                     a measured round trip (netdumpd takes it unchanged)
  --polls N          0.5 ms polls per round before retransmitting (2000)
  --retries N        retransmit rounds before giving up (10); with fast, the
                     data gives up after as long without a new ack
  --arp-retries N    ARP requests per target (3)
  -o NAME=VALUE      the same as sysctls: net.netdump.polls, .retries,
                     .arp_retries, .path, .debug
  --hostname NAME    KDH hostname (default: this host's name)
  --version-string S KDH version string (default: a release of the profile)
  --panic S          KDH panic string (default: "netdump test dump")
  --dump-time SECS   KDH dump time, seconds since the epoch (default: now)
  --ack-bug-compat   reproduce the kernel's 32-bit ack-bitmap aliasing (for
                     study: a lost packet can become a silent hole)
  --jumbo-payload    with freebsd13, send MTU-52 bytes per packet even above
                     4096, as the 13+ kernel does; netdumpd refuses those
  --netns NAME       open iface inside this network namespace
  --backend NAME     how frames reach iface: afpacket (default: an AF_PACKET
                     socket) or pcap (libpcap, not promiscuous; needs the
                     addon built with libpcap-dev installed)
  --driver NAME      the FreeBSD driver to model: generic, em, igb, vtnet
                     (default: from the interface's Linux driver: e1000 and
                     e1000e -> em, igb -> igb, virtio_net -> vtnet, else generic)
  --inject SPEC      inject faults, e.g. loss=0.05,dup=0.01,reorder=0.02,seed=7:
                     loss, dup, reorder, delay, corrupt (probabilities, both
                     directions, or tx.NAME / rx.NAME for one), seed, delay_ms
  --pcap FILE        write every frame sent and received to a pcap file
  --trace FILE       write one JSON line per transmit, poll, delay tick, ack
                     and retransmit round, with monotonic microsecond times
  --debug            explain every dropped frame (net.netdump.debug=1)
  --json             end with the summary as one JSON line instead of text
  --no-bar           on a terminal too, the kernel's "..N%" marks instead of
                     the live progress line
  -h, --help         show this help
  -V, --version      show the version

Exit status: 0 dump complete; 1 interface or system error; 2 bad usage;
3 ARP failed (no server or gateway MAC); 4 no ack for the herald; 5 the dump
data could not be sent (timeout or transmit error); 6 the data is complete
but FINISHED was not acknowledged. SIGINT, SIGTERM or SIGHUP stop the dump,
leave the interface as it was found, and the client dies of the signal.

Reading dumps back (no interface, no root needed):

${DUMP_TOOLS_USAGE}`;

/** net.netdump.polls' default. */
const DEFAULT_POLLS = 2000;

const EXIT = { ok: 0, system: 1, usage: 2, arp: 3, herald: 4, data: 5, finished: 6 } as const;

/** Bad usage: thrown, so that what is open is closed before the exit with status 2. */
class UsageError extends Error {}

function usageError(message: string): never {
  throw new UsageError(message);
}

function fail(message: string, status: number): never {
  process.stderr.write(`netdump: ${message}\n`);
  process.exit(status);
}

interface Options {
  iface: string;
  dumpFile?: string;
  syntheticSize?: number;
  server: string;
  client?: string;
  gateway?: string;
  path?: string;
  publicKeyFile?: string;
  cipher?: number;
  compression?: CompressionName;
  profile: Profile;
  polls: number;
  retries: number;
  arpRetries: number;
  debug: boolean;
  hostname?: string;
  versionString?: string;
  panic?: string;
  dumpTime?: number;
  ackBugCompat: boolean;
  jumboPayload: boolean;
  netns?: string;
  backend: BackendName;
  json: boolean;
  /** A live progress line when the console is a terminal (not --no-bar). */
  bar: boolean;
  faults?: FaultPlan;
  driver?: string;
  pcapFile?: string;
  traceFile?: string;
}

function syntheticSize(text: string, profile: Profile): number {
  let size: number;
  try {
    size = parseSize(text);
  } catch (error) {
    usageError(`--synthetic: ${(error as Error).message}`);
  }
  const minimum = minimumMinidumpSize({ version: profile.minidumpVersion });
  if (size < minimum) usageError(`--synthetic: ${text} is smaller than a ${profile.name} minidump's ${minimum} bytes of metadata`);
  return size;
}

function count(name: string, text: string | undefined, fallback: number, minimum = 0, maximum = 1_000_000): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum || value > maximum)
    usageError(`${name} must be an integer from ${minimum} to ${maximum}, not '${text}'`);
  return value;
}

function ipv4(name: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    parseIpv4Address(text);
  } catch {
    usageError(`${name}: '${text}' is not an IPv4 address`);
  }
  return text;
}

/** -o net.netdump.NAME=VALUE, as the sysctls of spec §7.3. */
function applySysctls(settings: string[], values: Record<string, string | boolean | undefined>): void {
  const names: Record<string, string> = {
    'net.netdump.polls': 'polls',
    'net.debugnet.npolls': 'polls',
    'net.netdump.retries': 'retries',
    'net.debugnet.nretries': 'retries',
    'net.netdump.arp_retries': 'arp-retries',
    'net.debugnet.arp_nretries': 'arp-retries',
    'net.netdump.path': 'p',
    'net.netdump.debug': 'debug',
    'net.debugnet.debug': 'debug',
  };
  for (const setting of settings) {
    const [name, value] = setting.split('=', 2);
    const option = names[name ?? ''];
    if (option === undefined || value === undefined)
      usageError(`-o ${setting}: expected one of ${Object.keys(names).join(', ')} as NAME=VALUE`);
    if (option === 'p') values[option] = value;
    else if (!/^\d+$/.test(value)) usageError(`-o ${name}: '${value}' is not a number (the sysctl is an integer)`);
    else values[option] = option === 'debug' ? Number(value) > 0 : value;
  }
}

function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        s: { type: 'string', short: 's' },
        c: { type: 'string', short: 'c' },
        g: { type: 'string', short: 'g' },
        p: { type: 'string', short: 'p' },
        k: { type: 'string', short: 'k' },
        C: { type: 'string', short: 'C' },
        z: { type: 'boolean', short: 'z' },
        Z: { type: 'boolean', short: 'Z' },
        o: { type: 'string', short: 'o', multiple: true },
        synthetic: { type: 'string' },
        profile: { type: 'string' },
        polls: { type: 'string' },
        retries: { type: 'string' },
        'arp-retries': { type: 'string' },
        hostname: { type: 'string' },
        'version-string': { type: 'string' },
        panic: { type: 'string' },
        'dump-time': { type: 'string' },
        'ack-bug-compat': { type: 'boolean' },
        'jumbo-payload': { type: 'boolean' },
        netns: { type: 'string' },
        backend: { type: 'string' },
        driver: { type: 'string' },
        inject: { type: 'string' },
        pcap: { type: 'string' },
        trace: { type: 'string' },
        debug: { type: 'boolean' },
        json: { type: 'boolean' },
        'no-bar': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (error) {
    usageError(describeArgumentError(error));
  }
  const values = parsed.values as Record<string, string | boolean | undefined> & { o?: string[] };
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(EXIT.ok);
  }
  if (values.version) {
    process.stdout.write(versionLine('netdump'));
    process.exit(EXIT.ok);
  }
  applySysctls(values.o ?? [], values);
  const [iface, dumpFile, ...extra] = parsed.positionals;
  if (iface === undefined) usageError('no interface given');
  if (extra.length > 0) usageError(`unexpected argument '${extra[0]}'`);
  if (values.s === undefined) usageError('no server given (-s)');
  if ((dumpFile === undefined) === (values.synthetic === undefined)) usageError('give either a dumpfile or --synthetic SIZE');
  const profileName = (values.profile as string | undefined) ?? 'freebsd13';
  const profile = Object.hasOwn(PROFILES, profileName) ? PROFILES[profileName as Profile['name']] : undefined;
  if (profile === undefined) usageError(`--profile must be freebsd12, freebsd13 or fast, not '${profileName}'`);
  if (values['ack-bug-compat'] === true && profile.sendLoop === 'window') {
    usageError("--ack-bug-compat reproduces the kernel's ack bitmap, which the fast profile's window does not use");
  }
  const path = values.p as string | undefined;
  if (path !== undefined && (path.length === 0 || Buffer.byteLength(path) > 1023))
    usageError('-p path must be 1 to 1023 bytes (it travels in one herald)');
  const cipher = cipherOf(values.C as string | undefined, values.k as string | undefined, profile);
  return {
    iface,
    dumpFile,
    syntheticSize: values.synthetic === undefined ? undefined : syntheticSize(values.synthetic as string, profile),
    server: ipv4('-s', values.s as string)!,
    client: ipv4('-c', values.c as string | undefined),
    gateway: ipv4('-g', values.g as string | undefined),
    path,
    publicKeyFile: values.k as string | undefined,
    cipher,
    compression: compressionOf(values, profile, cipher),
    profile,
    polls: count('--polls', values.polls as string | undefined, DEFAULT_POLLS, 1),
    retries: count('--retries', values.retries as string | undefined, 10),
    arpRetries: count('--arp-retries', values['arp-retries'] as string | undefined, 3, 1),
    debug: values.debug === true,
    hostname: values.hostname as string | undefined,
    versionString: values['version-string'] as string | undefined,
    panic: values.panic as string | undefined,
    dumpTime: values['dump-time'] === undefined ? undefined : count('--dump-time', values['dump-time'] as string, 0, 0, 8_640_000_000_000),
    ackBugCompat: values['ack-bug-compat'] === true,
    jumboPayload: values['jumbo-payload'] === true,
    netns: values.netns as string | undefined,
    backend: backendName(values.backend as string | undefined),
    json: values.json === true,
    bar: values['no-bar'] !== true,
    faults: values.inject === undefined ? undefined : faultPlan(values.inject as string),
    driver: shimName(values.driver as string | undefined),
    pcapFile: outputFile('--pcap', values.pcap as string | undefined),
    traceFile: outputFile('--trace', values.trace as string | undefined),
  };
}

function outputFile(flag: string, name: string | undefined): string | undefined {
  if (name === '') usageError(`${flag} needs a file name`);
  return name;
}

function shimName(name: string | undefined): string | undefined {
  if (name !== undefined && !isShimName(name)) usageError(`--driver must be one of ${SHIMS.join(', ')}, not '${name}'`);
  return name;
}

function backendName(name: string | undefined): BackendName {
  if (name === undefined) return DEFAULT_BACKEND;
  if (!isBackendName(name)) usageError(`--backend must be one of ${BACKENDS.join(', ')}, not '${name}'`);
  return name;
}

function faultPlan(text: string): FaultPlan {
  try {
    return parseFaultPlan(text);
  } catch (error) {
    usageError((error as Error).message);
  }
}

/** -z or -Z, refused where the profile's kernel refuses it with the dump's cipher (undefined: not encrypted). */
function compressionOf(values: Record<string, unknown>, profile: Profile, cipher: number | undefined): CompressionName | undefined {
  if (values.z === true && values.Z === true) usageError('-z and -Z are exclusive: give one compression');
  const compression = values.z === true ? 'gzip' : values.Z === true ? 'zstd' : undefined;
  if (compression === undefined) return compression;
  const refusal = compressionRefusal(profile.kernel, cipher);
  if (refusal !== undefined) usageError(`-${values.z === true ? 'z' : 'Z'} with -k: ${refusal}`);
  return compression;
}

const CIPHERS: Record<string, number> = { 'aes256-cbc': KERNELDUMP_ENC_AES_256_CBC, chacha20: KERNELDUMP_ENC_CHACHA20 };

/** The dump's cipher: undefined without -k; -C's, or dumpon's default for the profile. */
function cipherOf(name: string | undefined, publicKey: string | undefined, profile: Profile): number | undefined {
  if (name === undefined) return publicKey === undefined ? undefined : defaultEncryption(profile.kernel);
  if (publicKey === undefined) usageError('-C needs -k: a cipher without a key encrypts nothing');
  const cipher = CIPHERS[name];
  if (cipher === undefined) usageError(`-C must be chacha20 or aes256-cbc, not '${name}'`);
  if (cipher === KERNELDUMP_ENC_CHACHA20 && profile.kernel === 'freebsd12')
    usageError('-C chacha20 needs --profile freebsd13 (12.x has only aes256-cbc)');
  return cipher;
}

/**
 * The client address and gateway: given, or inferred from the interface and
 * the route to the server. Called once the interface is open, so that a
 * missing interface, namespace or privilege has already said so.
 */
function addressesOf(options: Options): { client: string; gateway: string | undefined } {
  const facts = lookUpRouteFacts(options.iface, options.server, options.netns);
  const client = options.client ?? facts.interfaceAddress;
  if (client === undefined) {
    usageError(`no client address: give -c (${options.iface} carries no IPv4 address to infer it from)`);
  }
  return { client, gateway: options.gateway ?? facts.gateway };
}

function readPublicKey(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new NetdumpError(
      errorCodeOf((error as NodeJS.ErrnoException).code),
      `cannot read the public key ${file}: ${(error as Error).message}`,
    );
  }
}

/** The dump as the kernel's layers make it: the minidump or file, compressed, then encrypted (spec §4.4). */
function dumpContent(options: Options, compressor: ChunkCompressor | undefined): DumpContent {
  const plain =
    options.dumpFile !== undefined
      ? openFileDumpSource(options.dumpFile)
      : new SyntheticMinidump({ size: options.syntheticSize!, version: options.profile.minidumpVersion });
  const compressed = compressor === undefined ? plain : new CompressedDumpSource(plain, compressor);
  const ekcd =
    options.publicKeyFile === undefined
      ? undefined
      : createEkcdKey({ publicKey: readPublicKey(options.publicKeyFile), profile: options.profile.kernel, encryption: options.cipher });
  const source: DumpSource = ekcd === undefined ? compressed : new EncryptedDumpSource(compressed, ekcd);
  // Built once the data is sent: a compressed dump's dumplength is known only then (dump_finish rewrites it).
  const kdh = () =>
    buildDumpHeader({
      dumpLength: source.sentLength ?? source.length,
      dumpExtent: compressor === undefined ? undefined : plain.length,
      compression: compressor?.kdhCompression,
      dumpKeySize: ekcd?.blob.length ?? 0,
      hostname: options.hostname,
      versionString: options.versionString,
      panicString: options.panic,
      dumpTime: options.dumpTime,
      profile: options.profile.kernel,
    });
  return { source, kdh, key: ekcd?.blob };
}

/**
 * Received frames corrupted past the NIC: a real NIC drops them on their
 * Ethernet FCS, and the kernel checks no UDP checksum in software (spec
 * §3.5), so a corrupted ack may mark as received a packet that never was.
 */
function noteReceiveCorruption(options: Options, print: (text: string) => void): void {
  if ((options.faults?.rx.corrupt ?? 0) === 0) return;
  print(
    'netdump: rx.corrupt hands the client frames a NIC would have dropped; like the kernel, it checks no UDP checksum, so a corrupted ack can leave a hole in the dump\n',
  );
}

/**
 * Through a gateway, the kernel still asks ARP for the server first, and
 * only then for the gateway (spec §3.2): arp_retries requests of up to
 * `polls` polls each, about 3 s by default, before the dump can start.
 */
function noteRoutedArp(options: Options, gateway: string | undefined, print: (text: string) => void): void {
  if (gateway === undefined) return;
  const seconds = (options.arpRetries * options.polls * POLL_DELAY_US) / 1e6;
  print(
    `netdump: the server is reached through ${gateway}: like the kernel, netdump first asks ARP for the server itself ` +
      `(${options.arpRetries} × ${options.polls} polls of 0.5 ms, up to ${seconds} s), then for the gateway; --arp-retries 1 shortens that\n`,
  );
}

/**
 * The kernel's retransmit round waits `polls` wait steps first: a second at
 * the default 2000. Said once, on stderr (the console is mid-line then), the
 * first time the kernel's loop retransmits with the default (the fast
 * profile's window resends on a measured round trip: its rounds say nothing).
 */
function withRetransmitNote(options: Options, tracer: TracingDriver | undefined): SendObserver | undefined {
  if (options.polls !== DEFAULT_POLLS) return tracer;
  let said = false;
  return {
    batch: (type, offset, firstSeqno, packets, bytes) => tracer?.batch(type, offset, firstSeqno, packets, bytes),
    batchAcked: (firstSeqno) => tracer?.batchAcked(firstSeqno),
    tick: (microseconds) => tracer?.tick(microseconds),
    ack: (seqno) => tracer?.ack(seqno),
    resend: (seqno) => tracer?.resend(seqno),
    retransmitRound: (round, packets, loop) => {
      if (!said && loop === 'kernel') {
        said = true;
        process.stderr.write(
          `netdump: retransmitting: each round waits ${DEFAULT_POLLS} polls of 0.5 ms (${(DEFAULT_POLLS * POLL_DELAY_US) / 1e6} s) first, as the kernel does; --polls shortens it\n`,
        );
      }
      tracer?.retransmitRound(round, packets);
    },
  };
}

/** netdumpd accepts at most 4096 payload bytes; say so when the 13+ kernel would send more. */
function noteJumboPayload(options: Options, mtu: number, print: (text: string) => void): void {
  const kernelPayload = maxPayload(options.profile, mtu, true);
  if (kernelPayload <= NETDUMP_DATASIZE || options.jumboPayload) return;
  print(
    `netdump: MTU ${mtu} would let FreeBSD 13+ send ${kernelPayload}-byte payloads, which netdumpd refuses; ` +
      `sending ${NETDUMP_DATASIZE} (--jumbo-payload to send them anyway)\n`,
  );
}

/**
 * The --json summary: the client's report, and which shim and backend carried the dump (the shim may
 * have been chosen for the interface). Tests and benchmarks read it with this type.
 */
export interface CliReport extends DumpReport {
  driver: string;
  backend: BackendName;
  /** With --inject: what the fault injector did, each way. */
  faults?: FaultInjectingDriver['counts'];
  /** The process's peak resident memory (getrusage's maxrss). */
  peakRssBytes: number;
  /** Whether V8 ran without background threads (on one CPU the CLI starts itself so: single-threaded.ts). */
  singleThreaded: boolean;
}

function faultSummary({ tx, rx }: FaultInjectingDriver['counts']): string {
  const way = (counts: FaultCounts) =>
    `${counts.lost} lost, ${counts.duplicated} duplicated, ${counts.reordered} reordered, ${counts.delayed} delayed, ${counts.corrupted} corrupted`;
  return `; faults injected: tx ${way(tx)}; rx ${way(rx)}`;
}

function summary(report: CliReport): string {
  const megabytesPerSecond = report.bytes / 1e6 / report.seconds;
  const perBatch = (value: number) => (value / Math.max(1, report.dataBatches)).toFixed(2);
  return (
    `netdump: ${report.bytes} bytes in ${report.seconds.toFixed(2)} s (${megabytesPerSecond.toFixed(1)} MB/s); ` +
    `${report.batches} batches of up to ${report.payloadBytes}-byte packets, ${report.packets} packets, ` +
    `${report.retransmittedPackets} retransmitted in ${report.retransmitRounds} rounds, ${report.acks} acks, ${report.polls} polls; ` +
    `dump data: ${perBatch(report.dataPolls)} polls and ${perBatch(report.dataSeconds * 1000)} ms per batch; ` +
    `driver ${report.driver} over ${report.backend}; peak memory ${(report.peakRssBytes / 2 ** 20).toFixed(0)} MiB${report.faults === undefined ? '' : faultSummary(report.faults)}` +
    `${report.window === undefined ? '' : windowSummary(report.window)}\n`
  );
}

/** The fast profile's window: why it resent, how large it grew, the round trip it measured. */
function windowSummary(window: WindowReport): string {
  return (
    `; window: ${window.overtakenResends} resent when overtaken, ${window.timeoutResends} on timeout, ` +
    `largest ${Math.floor(window.largestWindow)} packets, last ${Math.floor(window.lastWindow)}, round trip ${window.smoothedRttMicros.toFixed(0)} µs`
  );
}

/** The driver with its middleware: tracer outermost, then faults, then the capture nearest the wire. */
function driverStack(
  options: Options,
  backend: FrameBackend,
): { driver: NetdumpDriver; tracer?: TracingDriver; injector?: FaultInjectingDriver } {
  let driver: NetdumpDriver = createDriver(backend, options.driver, {
    vtnet: options.profile.vtnet,
  });
  if (options.pcapFile !== undefined) driver = new PcapWritingDriver(driver, options.pcapFile);
  const injector = options.faults === undefined ? undefined : new FaultInjectingDriver(driver, options.faults);
  driver = injector ?? driver;
  if (options.traceFile === undefined) return { driver, injector };
  const tracer = new TracingDriver(driver, options.traceFile);
  return { driver: tracer, tracer, injector };
}

/** Runs the dump. A stop signal caught meanwhile wins over how the dump ended: the process dies of it once all is closed. */
async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  // With --json, stdout carries the JSON summary alone: the kernel's console goes to stderr.
  consoleStream = options.json ? process.stderr : process.stdout;
  const liveProgress =
    options.bar && !options.json && process.stdout.isTTY
      ? new TerminalProgress(process.stdout, (open) => (consoleMidLine = open))
      : undefined;
  const print = (text: string) => {
    if (liveProgress?.showing) return liveProgress.printAbove(text);
    if (liveProgress !== undefined) text = liveProgress.afterBar(text);
    consoleMidLine = text.length > 0 ? !text.endsWith('\n') : consoleMidLine;
    consoleStream.write(text);
  };
  // Loaded before the dump: the send loop is synchronous, as the kernel's is.
  const compressor = options.compression === undefined ? undefined : await chunkCompressor(options.compression);
  const content = dumpContent(options, compressor);
  const signals = StopSignals.watch();
  try {
    dump(options, content, signals, print, liveProgress);
  } finally {
    signals.release();
    // dieOf does not return: a caught signal wins over an error in flight.
    if (signals.caught !== 0) dieOf(signals.caught);
  }
}

/** Where the kernel's console goes, and whether its last line is unfinished ("Dumping 64 out of 64 MB:..13%"). */
let consoleStream: NodeJS.WriteStream = process.stdout;
let consoleMidLine = false;

/**
 * Says why and dies of the signal, now that the previous handlers (Node's)
 * are back, so that a shell running us in a loop stops too; exits with the
 * shell's status for it should a handler return.
 */
function dieOf(signal: number): never {
  if (consoleMidLine) consoleStream.write('\n');
  process.stderr.write(`netdump: interrupted by ${signalName(signal)}\n`);
  process.kill(process.pid, signal);
  process.exit(128 + signal);
}

/** Opens the interface, then looks up what -c and -g left out: a missing interface, namespace or privilege says so first. */
function openInterface(options: Options): { backend: FrameBackend; client: string; gateway: string | undefined } {
  const backend = openBackend(options.backend, options.iface, { netns: options.netns });
  try {
    return { backend, ...addressesOf(options) };
  } catch (error) {
    backend.close();
    throw error;
  }
}

function dump(
  options: Options,
  content: DumpContent,
  signals: StopSignals,
  print: (text: string) => void,
  liveProgress: TerminalProgress | undefined,
): void {
  const { backend, client, gateway } = openInterface(options);
  const stack = driverStack(options, backend);
  const driver = new StoppingDriver(stack.driver, signals);
  let heldPort: HeldHostPort | undefined;
  try {
    const tracer = stack.tracer;
    const facts = driver.facts();
    const serverIp = parseIpv4Address(options.server);
    noteJumboPayload(options, facts.mtu, print);
    noteReceiveCorruption(options, print);
    noteRoutedArp(options, gateway, print);
    heldPort = isLocalAddress(client, options.netns) ? new HeldHostPort(client, NETDUMP_ACKPORT, options.netns) : undefined;
    if (heldPort !== undefined && options.debug) {
      print(
        `netdump: ${client} is configured in the host kernel; holding UDP port ${NETDUMP_ACKPORT} there so that it does not answer acks with ICMP port unreachable\n`,
      );
    }
    const dumped = runNetdump(
      driver,
      {
        clientIp: parseIpv4Address(client),
        serverIp,
        gatewayIp: gateway === undefined ? 0 : parseIpv4Address(gateway),
        mac: facts.mac,
        mtu: facts.mtu,
      },
      {
        profile: options.profile,
        polls: options.polls,
        retries: options.retries,
        arpRetries: options.arpRetries,
        path: options.path,
        ackBugCompat: options.ackBugCompat,
        allowPayloadOver4096: options.jumboPayload,
        debug: options.debug,
        print,
        delay: delayMicroseconds,
        clock: monotonicMicros,
        gatewayGiven: options.gateway !== undefined,
        observer: withRetransmitNote(options, tracer),
        liveProgress,
        serverPortFound: (port) => {
          if (heldPort?.serverFound(options.server, port) && options.debug) {
            print(`netdump: the host's socket on port ${NETDUMP_ACKPORT} now takes only what ${options.server}:${port} sends\n`);
          }
        },
      },
      content,
    );
    const report: CliReport = {
      ...dumped,
      driver: driver.name,
      backend: options.backend,
      faults: stack.injector?.counts,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      singleThreaded: singleThreaded(),
    };
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else print(summary(report));
  } finally {
    heldPort?.close();
    driver.close();
  }
}

const [command, ...commandArgs] = process.argv.slice(2);
if (isDumpTool(command)) await runDumpTool(command, commandArgs);
if (wantsSingleThreaded()) await relaunchSingleThreaded((message) => fail(message, EXIT.system));

try {
  await main();
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(usageLines('netdump', error.message));
    process.exit(EXIT.usage);
  }
  if (error instanceof DumpFailure) fail(error.message, EXIT[error.stage]);
  if (error instanceof NetdumpError) fail(error.message, EXIT.system);
  throw error;
}
