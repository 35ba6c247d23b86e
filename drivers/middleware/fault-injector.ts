/**
 * Middleware: loss, duplication, reordering, delay and corruption of
 * netdump traffic, separately on transmit and receive, seeded so a run can
 * be repeated. Each decision is a hash of the seed, the direction, the
 * fault, the frame's netdump identity (message type and sequence number, or
 * the acked sequence number) and how often that frame was seen before, not
 * a draw from a stream: so the same seed makes the same decisions however
 * the frames happen to be batched into polls. Frames that are not netdump
 * traffic (ARP, stray IP) pass untouched.
 */
import { performance } from 'node:perf_hooks';

import { NetdumpError } from '../../errors/index.js';
import {
  ETHERNET_HEADER_SIZE,
  ethernetMaxFrameSize,
  isUdpFrame,
  NETDUMP_ACK_SIZE,
  netdumpAckSeqno,
  NETDUMP_HEADER_SIZE,
  netdumpSeqno,
  netdumpType,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import type { FrameInput, NetdumpDriver } from '../driver.js';
import { DriverWrapper } from './wrapper.js';

export interface FaultRates {
  loss: number;
  dup: number;
  reorder: number;
  delay: number;
  corrupt: number;
}

export interface FaultPlan {
  tx: FaultRates;
  rx: FaultRates;
  seed: number;
  /** How long a delayed frame is held. */
  delayMs: number;
}

export interface FaultCounts {
  lost: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  corrupted: number;
}

const FAULTS = ['loss', 'dup', 'reorder', 'delay', 'corrupt'] as const;
type Fault = (typeof FAULTS)[number];
const NO_FAULTS: FaultRates = { loss: 0, dup: 0, reorder: 0, delay: 0, corrupt: 0 };
const HELD_SLOTS = 64;
const SEEN_SLOTS = 4096;

/** A plain decimal number: no hex, no words, nothing after it (out-of-range values are refused later). */
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
/** Ten default retransmit rounds (2000 polls of 0.5 ms each): longer only makes every held frame a loss. */
const MAX_DELAY_MS = 10_000;

/** Parses "loss=0.05,dup=0.01,tx.reorder=0.02,rx.loss=0.1,seed=7,delay_ms=2". */
export function parseFaultPlan(text: string): FaultPlan {
  const plan: FaultPlan = { tx: { ...NO_FAULTS }, rx: { ...NO_FAULTS }, seed: 1, delayMs: 2 };
  const items = text.split(',').filter(Boolean);
  if (items.length === 0) throw new NetdumpError('EINVAL', "--inject: no faults given (for example 'loss=0.05,seed=7')");
  for (const item of items) {
    const [, key = '', value = ''] = /^([^=]+)=([^=]+)$/.exec(item) ?? [];
    if (!DECIMAL.test(value)) throw new NetdumpError('EINVAL', `--inject: '${item}' is not NAME=NUMBER`);
    if (key === 'seed') plan.seed = parseSeed(value);
    else if (key === 'delay_ms') plan.delayMs = parseDelayMs(value);
    else setRate(plan, key, Number(value));
  }
  return plan;
}

function parseSeed(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 0xffffffff) {
    throw new NetdumpError('EINVAL', `--inject: seed must be a whole number from 0 to 4294967295, not ${value}`);
  }
  return Number(value);
}

function parseDelayMs(value: string): number {
  const ms = Number(value);
  if (!(ms >= 0 && ms <= MAX_DELAY_MS))
    throw new NetdumpError('EINVAL', `--inject: delay_ms must be from 0 to ${MAX_DELAY_MS}, not ${value}`);
  return ms;
}

function setRate(plan: FaultPlan, key: string, rate: number): void {
  const [direction, fault] = key.includes('.') ? key.split('.', 2) : ['both', key];
  if (!FAULTS.includes(fault as Fault)) {
    throw new NetdumpError(
      'EINVAL',
      `--inject: unknown fault '${key}' (known: ${FAULTS.join(', ')}, each optionally tx. or rx., and seed, delay_ms)`,
    );
  }
  if (!(rate >= 0 && rate <= 1)) throw new NetdumpError('EINVAL', `--inject: ${key} must be a probability from 0 to 1, not ${rate}`);
  if (direction !== 'both' && direction !== 'tx' && direction !== 'rx')
    throw new NetdumpError('EINVAL', `--inject: '${direction}' is not tx or rx`);
  if (direction !== 'rx') plan.tx[fault as Fault] = rate;
  if (direction !== 'tx') plan.rx[fault as Fault] = rate;
}

/** A well-mixed 32-bit hash (the murmur3 finalizer over a running combination). */
function mix(hash: number, value: number): number {
  let h = (hash ^ value) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Frames held back (reordered or delayed), in slots allocated once. */
class HeldFrames {
  private readonly slots: Uint8Array[];
  private readonly lengths = new Uint32Array(HELD_SLOTS);
  private readonly dueAt = new Float64Array(HELD_SLOTS);
  private readonly used = new Uint8Array(HELD_SLOTS);
  /** Slots in use: the send loop polls millions of times a dump, and mostly nothing is held. */
  private held = 0;

  constructor(slotSize: number) {
    this.slots = Array.from({ length: HELD_SLOTS }, () => new Uint8Array(slotSize));
  }

  /** Holds a copy until `dueAt` (a time, or a frame count); false if every slot is taken. */
  hold(frame: Uint8Array, dueAt: number): boolean {
    const slot = this.used.indexOf(0);
    if (slot < 0 || frame.length > this.slots[slot]!.length) return false;
    this.slots[slot]!.set(frame);
    this.lengths[slot] = frame.length;
    this.dueAt[slot] = dueAt;
    this.used[slot] = 1;
    this.held++;
    return true;
  }

  get empty(): boolean {
    return this.held === 0;
  }

  /** Hands every frame due by `now` to `release` and frees its slot. */
  releaseDue(now: number, release: (frame: Uint8Array) => void): void {
    for (let slot = 0; slot < HELD_SLOTS && this.held > 0; slot++) {
      if (this.used[slot] === 1 && this.dueAt[slot]! <= now) {
        this.used[slot] = 0;
        this.held--;
        release(this.slots[slot]!.subarray(0, this.lengths[slot]));
      }
    }
  }
}

/** How many times each netdump frame was seen, in a fixed table keyed by sequence number. */
class Sightings {
  private readonly keys = new Float64Array(SEEN_SLOTS).fill(-1);
  private readonly counts = new Uint32Array(SEEN_SLOTS);

  next(key: number): number {
    const slot = key % SEEN_SLOTS;
    if (this.keys[slot] !== key) {
      this.keys[slot] = key;
      this.counts[slot] = 0;
    }
    const seen = this.counts[slot]!;
    this.counts[slot] = seen + 1;
    return seen;
  }
}

class Direction {
  /** Delayed frames, due at a time (ms, performance.now()). */
  readonly delayed: HeldFrames;
  /** Reordered frames, due once a later frame has passed: keyed by the frame count when held. */
  readonly reordered: HeldFrames;
  readonly seen = new Sightings();
  /** Frames offered in this direction so far. */
  generation = 0;
  private readonly scratch: Uint8Array;

  constructor(
    readonly name: 'tx' | 'rx',
    readonly rates: FaultRates,
    private readonly seed: number,
    slotSize: number,
  ) {
    this.delayed = new HeldFrames(slotSize);
    this.reordered = new HeldFrames(slotSize);
    this.scratch = new Uint8Array(slotSize);
  }

  /** Hands the delayed frames now due to `pass`; the clock is read only when one waits (each reading is a heap number). */
  releaseDelayed(pass: (frame: Uint8Array) => void): void {
    if (!this.delayed.empty) this.delayed.releaseDue(performance.now(), pass);
  }

  /** The frame's netdump identity (type and sequence, or the acked sequence), or -1 for other traffic. */
  identity(frame: Uint8Array): number {
    if (this.name === 'rx') return isUdpFrame(frame, NETDUMP_ACK_SIZE) ? netdumpAckSeqno(frame, UDP_PAYLOAD_OFFSET) : -1;
    if (!isUdpFrame(frame, NETDUMP_HEADER_SIZE)) return -1;
    return netdumpSeqno(frame, UDP_PAYLOAD_OFFSET) * 8 + (netdumpType(frame, UDP_PAYLOAD_OFFSET) & 7);
  }

  /** Whether `fault` strikes the `occurrence`-th sighting of frame `identity`. */
  strikes(fault: Fault, identity: number, occurrence: number): boolean {
    const rate = this.rates[fault];
    if (rate === 0) return false;
    let hash = mix(this.seed, this.name === 'tx' ? 0x7478 : 0x7278);
    hash = mix(hash, FAULTS.indexOf(fault) + 1);
    hash = mix(hash, identity % 2 ** 32);
    hash = mix(hash, Math.floor(identity / 2 ** 32));
    hash = mix(hash, occurrence);
    return hash / 2 ** 32 < rate;
  }

  /** A copy of the frame with one byte past the Ethernet header flipped. */
  corrupt(frame: Uint8Array, identity: number): Uint8Array {
    const copy = this.scratch.subarray(0, frame.length);
    copy.set(frame);
    const at = ETHERNET_HEADER_SIZE + (mix(this.seed, identity % 2 ** 32) % Math.max(1, frame.length - ETHERNET_HEADER_SIZE));
    copy[at] = copy[at]! ^ 0xff;
    return copy;
  }
}

export class FaultInjectingDriver extends DriverWrapper {
  readonly counts: { tx: FaultCounts; rx: FaultCounts } = {
    tx: { lost: 0, duplicated: 0, reordered: 0, delayed: 0, corrupted: 0 },
    rx: { lost: 0, duplicated: 0, reordered: 0, delayed: 0, corrupted: 0 },
  };
  private readonly tx: Direction;
  private readonly rx: Direction;
  private input: FrameInput = () => undefined;
  /** Frames handed to this poll's input, and the flags of the frame being filtered (the closures are made once). */
  private delivered = 0;
  private rxFlags = 0;
  private readonly sendHeld = (frame: Uint8Array) => this.inner.transmit(frame);
  private readonly deliver = (frame: Uint8Array) => {
    this.delivered++;
    this.input(frame, this.rxFlags);
  };
  private readonly deliverHeld = (frame: Uint8Array) => {
    this.delivered++;
    this.input(frame, 0);
  };
  private readonly filter: FrameInput = (frame, flags) => {
    this.rxFlags = flags;
    this.apply(this.rx, frame, this.deliver);
  };
  private readonly send = (frame: Uint8Array) => this.inner.transmit(frame);

  constructor(
    inner: NetdumpDriver,
    private readonly plan: FaultPlan,
  ) {
    super(inner);
    const slotSize = ethernetMaxFrameSize(inner.facts().mtu);
    this.tx = new Direction('tx', plan.tx, plan.seed, slotSize);
    this.rx = new Direction('rx', plan.rx, plan.seed, slotSize);
  }

  override transmit(frame: Uint8Array): void {
    this.apply(this.tx, frame, this.send);
    this.release(this.tx, this.sendHeld);
  }

  /** Returns the frames it handed to `input`: lost ones not counted, duplicates and released ones counted. */
  override poll(count: number, input: FrameInput): number {
    this.tx.reordered.releaseDue(Infinity, this.sendHeld);
    this.tx.releaseDelayed(this.sendHeld);
    this.input = input;
    this.delivered = 0;
    this.inner.poll(count, this.filter);
    this.release(this.rx, this.deliverHeld);
    return this.delivered;
  }

  /** Frames reordered before the latest one, and delayed frames now due. */
  private release(direction: Direction, pass: (frame: Uint8Array) => void): void {
    direction.reordered.releaseDue(direction.generation - 1, pass);
    direction.releaseDelayed(pass);
  }

  private apply(direction: Direction, frame: Uint8Array, pass: (frame: Uint8Array) => void): void {
    const identity = direction.identity(frame);
    if (identity < 0) return pass(frame);
    direction.generation++;
    const occurrence = direction.seen.next(identity);
    const counts = this.counts[direction.name];
    if (direction.strikes('loss', identity, occurrence)) {
      counts.lost++;
      return;
    }
    let out = frame;
    if (direction.strikes('corrupt', identity, occurrence)) {
      out = direction.corrupt(frame, identity);
      counts.corrupted++;
    }
    if (direction.strikes('delay', identity, occurrence) && direction.delayed.hold(out, performance.now() + this.plan.delayMs)) {
      counts.delayed++;
    } else if (direction.strikes('reorder', identity, occurrence) && direction.reordered.hold(out, direction.generation)) {
      counts.reordered++;
    } else {
      pass(out);
    }
    if (direction.strikes('dup', identity, occurrence)) {
      counts.duplicated++;
      pass(out);
    }
  }
}
