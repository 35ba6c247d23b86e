/**
 * npm run bench:driver — raw-frame send rates over a veth pair, each as a
 * ratio to a pure C sendmmsg blast, and the middleware chain (tracer +
 * pcap writer) as a ratio to the bare driver.
 *
 * Every mode sends in blocks of 10,000 frames (about 30 ms), the modes
 * taking turns in rounds, and each ratio is taken within a round. On this
 * shared machine, runs of a second each fell into different slow spells:
 * two consecutive runs of the same code read 0.73 and 0.96 for the chain,
 * and 1.12 and 0.85 for sendBatch. The blocks of one round share the spell.
 *
 * The sending thread, and the C blast it starts, are pinned to one CPU;
 * the middleware's writer threads get the others, as a spare core would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { AfPacketBackend } from '../../drivers/afpacket.js';
import type { NetdumpDriver } from '../../drivers/driver.js';
import { GenericDriver } from '../../drivers/generic.js';
import { PcapWritingDriver } from '../../drivers/middleware/pcap-writer.js';
import { TracingDriver } from '../../drivers/middleware/tracer.js';
import { PacketSocket, threadCpus } from '../../native/index.js';
import { parseMac, ETHERNET_ETHERTYPE_OFFSET } from '../../src/wire/index.js';
import { createTestHostPair, type TestHosts } from '../lib/testhosts.js';
import {
  buildBenchProgram,
  formatTable,
  median,
  ratioText,
  pinThisThread,
  quantile,
  roundOrder,
  startingThreadsOn,
  runBench,
} from './lib.js';

const USAGE = `usage: npm run bench:driver -- [--frames N] [--runs N] [--size BYTES]
  --frames N    frames per mode and run, sent in blocks of 10000, the modes in turn (default 400000)
  --runs N      runs, each with a fresh middleware chain (default 5)
  --size BYTES  frame size including the Ethernet header (default 1514)`;

const BLOCK_FRAMES = 10_000;
const C_LIMIT = 'C sendmmsg blast, 64 a call (limit)';
const SEND_BATCH_64 = 'JS sendBatch, 64 frames a call';
const BARE_DRIVER = 'generic driver, a poll (the doorbell) per 46 transmits';
/** A 64 KiB batch's packets at MTU 1500: what the send loop transmits between polls. */
const FRAMES_PER_POLL = 46;
const CHAIN = 'same, through tracer + pcap writer';

interface Measurement {
  frames: number;
  seconds: number;
}

/** A way of sending, measured one block at a time. */
interface Mode {
  name: string;
  block(frames: number): Measurement | Promise<Measurement>;
}

function experimentalFrame(size: number, dst: Buffer, src: Buffer): Buffer {
  const frame = Buffer.alloc(size);
  dst.copy(frame, 0);
  src.copy(frame, 6);
  frame.writeUInt16BE(0x88b5, ETHERNET_ETHERTYPE_OFFSET); // IEEE 802 local experimental: the peer drops it cheaply
  return frame;
}

function timed(frames: number, send: () => void): Measurement {
  const start = process.hrtime.bigint();
  send();
  return { frames, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

function jsModes(socket: PacketSocket, peerMac: Buffer, size: number): Mode[] {
  const ourMac = socket.info().mac;
  const frames = Array.from({ length: 64 }, () => experimentalFrame(size, peerMac, ourMac));
  const one = frames[0]!;
  const batched = (batch: number): Mode => ({
    name: `JS sendBatch, ${batch} frames a call`,
    block: (total) =>
      timed(total, () => {
        for (let sent = 0; sent < total; sent += batch) socket.sendBatch(frames, Math.min(batch, total - sent));
      }),
  });
  return [
    {
      name: 'JS send, one call per frame',
      block: (total) =>
        timed(total, () => {
          for (let i = 0; i < total; i++) socket.send(one);
        }),
    },
    batched(32),
    batched(64),
  ];
}

function openDriver(hosts: TestHosts): NetdumpDriver {
  return new GenericDriver(new AfPacketBackend(hosts.client.iface, { netns: hosts.client.ns }));
}

function openChain(hosts: TestHosts, scratch: string, writerCpus: number[]): NetdumpDriver {
  return startingThreadsOn(
    writerCpus,
    () => new TracingDriver(new PcapWritingDriver(openDriver(hosts), path.join(scratch, 'bench.pcap')), path.join(scratch, 'bench.jsonl')),
  );
}

const ignoreFrame = (): void => undefined;

function driverMode(name: string, driver: () => NetdumpDriver, frame: Uint8Array): Mode {
  return {
    name,
    block: (total) => {
      const target = driver();
      return timed(total, () => {
        for (let sent = 0; sent < total; sent += FRAMES_PER_POLL) {
          const frames = Math.min(FRAMES_PER_POLL, total - sent);
          for (let i = 0; i < frames; i++) target.transmit(frame);
          target.poll(1, ignoreFrame);
        }
      });
    },
  };
}

/**
 * The C blast as a child that sends a block whenever asked (blast.c's "-"
 * mode), so its blocks can take turns with ours. It inherits the pinned
 * thread's CPU.
 */
class BlastProcess implements Mode {
  readonly name = C_LIMIT;
  private readonly child: ChildProcess;
  private readonly replies: ((line: string) => void)[] = [];
  private exited: string | undefined;
  private readonly gone: Promise<void>;

  constructor(program: string, hosts: TestHosts, size: number) {
    this.child = spawn(program, [hosts.client.ns, hosts.client.iface, hosts.server.mac, String(size), '-', '64'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child.stdin!.on('error', () => undefined); // a blast that is gone is reported by its exit
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.replies.shift()?.(line));
    this.gone = new Promise((resolve) => {
      const stop = (why: string) => {
        this.exited ??= why;
        for (const reply of this.replies.splice(0)) reply('');
        resolve();
      };
      this.child.on('exit', (code, signal) => stop(`the C blast exited (${code ?? signal})`));
      this.child.on('error', (error) => stop(`the C blast could not run: ${error.message}`));
    });
  }

  block(frames: number): Promise<Measurement> {
    return new Promise((resolve, reject) => {
      if (this.exited !== undefined) return reject(new Error(this.exited));
      this.replies.push((line) => {
        try {
          resolve(JSON.parse(line) as Measurement);
        } catch {
          reject(new Error(this.exited ?? `the C blast answered ${JSON.stringify(line)}`));
        }
      });
      this.child.stdin!.write(`${frames}\n`);
    });
  }

  /** Ends the blast and waits for it to go, so its socket is gone before the test hosts are. */
  async close(): Promise<void> {
    this.child.stdin!.end();
    await this.gone;
  }
}

/** Rates of each mode, block by block; blocks of the same index come from the same round. */
type Rates = Map<string, number[]>;

/** One run: `total` frames per mode, in rounds of one block per mode; returns the next round's number. */
async function measureRun(modes: Mode[], total: number, firstRound: number, rates: Rates): Promise<number> {
  let round = firstRound;
  for (let done = 0; done < total; done += BLOCK_FRAMES, round++) {
    const frames = Math.min(BLOCK_FRAMES, total - done);
    for (const mode of roundOrder(modes, round)) {
      const { frames: sent, seconds } = await mode.block(frames);
      rates.get(mode.name)!.push(sent / seconds);
    }
  }
  return round;
}

/** Each round's rate of `name` over its rate of `base`. */
function roundRatios(rates: Rates, name: string, base: string): number[] {
  const baseRates = rates.get(base)!;
  return rates.get(name)!.map((rate, round) => rate / baseRates[round]!);
}

function spread(ratios: number[]): string {
  return `${median(ratios).toFixed(2)} (${quantile(ratios, 0.25).toFixed(2)}-${quantile(ratios, 0.75).toFixed(2)})`;
}

function printResults(modes: Mode[], rates: Rates, size: number): void {
  const row = (mode: Mode, base: string) => {
    const rate = median(rates.get(mode.name)!);
    const ratio = mode.name === base ? '1.00' : spread(roundRatios(rates, mode.name, base));
    return [mode.name, Math.round(rate).toLocaleString('en-US'), ((rate * size) / 1e6).toFixed(1), ratio];
  };
  const sendModes = modes.filter((mode) => mode.name !== CHAIN);
  console.log(
    formatTable(
      ['mode', 'frames/s', 'MB/s', 'ratio to C limit'],
      sendModes.map((mode) => row(mode, C_LIMIT)),
    ),
  );
  console.log('');
  const middleware = modes.filter((mode) => mode.name === BARE_DRIVER || mode.name === CHAIN);
  console.log(
    formatTable(
      ['middleware', 'frames/s', 'MB/s', 'ratio to bare driver'],
      middleware.map((mode) => row(mode, BARE_DRIVER)),
    ),
  );
  const target = (what: string, ratios: number[], goal: number) => {
    const value = median(ratios);
    console.log(`target: ${what} >= ${goal.toFixed(2)}: ${ratioText(value, goal)} ${value >= goal ? 'met' : 'NOT met'}`);
  };
  console.log('');
  target('sendBatch at 64 against the C limit', roundRatios(rates, SEND_BATCH_64, C_LIMIT), 0.9);
  target('tracer + pcap writer against the bare driver', roundRatios(rates, CHAIN, BARE_DRIVER), 0.8);
}

function parseOptions(): { frames: number; runs: number; size: number } {
  try {
    const { values } = parseArgs({
      options: { frames: { type: 'string' }, runs: { type: 'string' }, size: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const options = { frames: Number(values.frames ?? 400000), runs: Number(values.runs ?? 5), size: Number(values.size ?? 1514) };
    if (!(options.frames >= 1000 && options.runs >= 1 && options.size >= 60 && options.size <= 1514)) throw new Error('out of range');
    return options;
  } catch (error) {
    console.error(`bench:driver: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  const allCpus = threadCpus();
  const cpu = pinThisThread();
  // The writers get the other CPUs, as a spare core would take them in use; alone, they share the sender's.
  const writerCpus = allCpus.length > 1 ? allCpus.filter((other) => other !== cpu) : allCpus;
  const program = buildBenchProgram('blast', ['scripts/bench/blast.c', 'native/packet_socket.c']);
  const hosts = createTestHostPair();
  // The capture and trace go to memory (tmpfs) when there is one: this measures the middleware, not the disk.
  const scratch = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'netdump-bench-driver-'));
  try {
    await measureAndPrint(options, hosts, program, scratch, { cpu, writerCpus });
  } finally {
    hosts.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Opens every mode's sender, measures them in rounds, prints the tables, and closes them all whatever happens. */
async function measureAndPrint(
  { frames, runs, size }: { frames: number; runs: number; size: number },
  hosts: TestHosts,
  program: string,
  scratch: string,
  { cpu, writerCpus }: { cpu: number; writerCpus: number[] },
): Promise<void> {
  const closers: (() => unknown)[] = [];
  try {
    const blast = new BlastProcess(program, hosts, size);
    closers.push(() => blast.close());
    const socket = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns });
    closers.push(() => socket.close());
    const bare = openDriver(hosts);
    closers.push(() => bare.close());
    let chain: NetdumpDriver | undefined;
    const peerMac = Buffer.from(parseMac(hosts.server.mac));
    const frame = experimentalFrame(size, peerMac, Buffer.from(bare.facts().mac));
    const modes: Mode[] = [
      blast,
      ...jsModes(socket, peerMac, size),
      driverMode(BARE_DRIVER, () => bare, frame),
      driverMode(CHAIN, () => chain!, frame),
    ];
    const rates: Rates = new Map(modes.map((mode) => [mode.name, []]));
    let rounds = 0;
    for (let run = 0; run < runs; run++) {
      chain = openChain(hosts, scratch, writerCpus);
      try {
        rounds = await measureRun(modes, frames, rounds, rates);
      } finally {
        chain.close();
      }
    }
    console.log(
      `bench:driver: ${size}-byte frames over veth; ${runs} runs of ${frames} frames per mode, in ${rounds} rounds of one ` +
        `block of up to ${BLOCK_FRAMES} frames per mode; medians over the blocks, ratios within each round ` +
        `(middle half in brackets); a fresh chain per run; sending thread and C blast on CPU ${cpu}, ` +
        `the middleware's writer threads on CPU ${writerCpus.join(',')}\n`,
    );
    printResults(modes, rates, size);
  } finally {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (error) {
        console.error(`bench:driver: while closing: ${(error as Error).message}`);
      }
    }
  }
}

runBench('bench:driver', main);
