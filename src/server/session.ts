/**
 * One client's dump, from its herald to FINISHED, timeout or write error:
 * netdumpd's client_event and one handler per message type (spec §6.6),
 * with batched receive and batched acks. Every valid message is acked with
 * its own sequence number; nothing is tracked, so duplicates and reordering
 * are harmless: data lands at its offset.
 */
import { closeSync, fsyncSync, ftruncateSync, writeSync } from 'node:fs';

import { pwriteAll, type UdpSocket } from '../../native/index.js';
import {
  NETDUMP_ACK_SIZE,
  NETDUMP_DATASIZE,
  NETDUMP_EKCD_KEY,
  NETDUMP_FINISHED,
  NETDUMP_HEADER_SIZE,
  NETDUMP_KDH,
  NETDUMP_VMCORE,
  netdumpLen,
  netdumpOffset,
  netdumpOffset64,
  netdumpOffsetLow,
  netdumpSeqno,
  netdumpType,
  setNetdumpAckSeqno,
  KERNELDUMPHEADER_SIZE,
} from '../wire/index.js';
import { describeClient, relativeName, type ClientFiles } from './client-files.js';
import { openForWriting } from './dumpdir.js';
import { describeKdh } from './kdh-info.js';
import { printable, type Logger } from './log.js';
import { strerror } from '../../errors/strerror.js';

const VMCORE_BUFFER_SIZE = 128 * 1024;
const RECEIVE_BATCH = 64;
/** netdumpd logs a "." when seq % 11522 == 0, about every 16 MB at MTU 1500 (spec §6.6). */
const PROGRESS_EVERY = 11522;
/**
 * After a datagram, keep polling this long before going back to epoll: a
 * sender's next packets are usually microseconds away, and one wake-up per
 * batch instead of per packet is most of what beats a plain per-packet server.
 */
const SPIN_NS = 50_000n;

export type EndReason = 'success' | 'timeout' | 'error';

export interface SessionContext {
  log: Logger;
  /** Runs the handler script, if one is configured. */
  runHandler(reason: EndReason, session: Session): void;
  /** Called once, when the session has ended and closed everything. */
  onEnd(session: Session): void;
}

export class Session {
  /** Set by KDH and VMCORE (not EKCD_KEY): a herald after this starts a new dump. */
  anyDataReceived = false;
  lastMessageAt = Date.now();
  private ended = false;
  private readonly vmcore = Buffer.alloc(VMCORE_BUFFER_SIZE);
  private vmcoreLength = 0;
  /** File offset of the buffer's first byte; buffered data always ends below 2^53. */
  private vmcoreOffset = 0;
  private keyFd: number | undefined;
  private readonly acks = Array.from({ length: RECEIVE_BATCH }, () => Buffer.alloc(NETDUMP_ACK_SIZE));
  private pendingAcks = 0;

  constructor(
    readonly ip: string,
    readonly hostname: string,
    private readonly socket: UdpSocket,
    readonly files: ClientFiles,
    private readonly context: SessionContext,
  ) {}

  /** Relative to the dump directory, as netdumpd names it to the handler: "./info.host.0". */
  get infoFile(): Buffer {
    return relativeName(this.files, this.files.infoName);
  }

  get coreFile(): Buffer {
    return relativeName(this.files, this.files.coreName);
  }

  private get who(): string {
    return describeClient(this);
  }

  /** Writes "Dump from …" and starts receiving. */
  start(): void {
    this.info(`Dump from ${this.who}\n`);
    this.socket.onReadable(() => this.receive());
  }

  /** Acks a (repeated) herald from this session's socket right away. */
  ackNow(seqno: number): void {
    this.queueAck(seqno);
    this.sendAcks();
  }

  /** Ends the dump as timed out (idle, a receive error, a new herald, a stop signal); acked data is written first. */
  timeOut(): void {
    if (this.ended) return;
    this.context.log.info(`Client ${this.ip} timed out\n`);
    if (!this.flushVmcore()) return;
    this.info('Dump incomplete: client timed out\n');
    this.end('timeout');
  }

  private receive(): void {
    let idleSince = 0n;
    while (!this.ended) {
      let count: number;
      try {
        count = this.socket.recvBatch(RECEIVE_BATCH);
      } catch (error) {
        // An ICMP error (say, port unreachable) surfaces here; netdumpd gives up on the client.
        this.context.log.error(`${(error as Error).message}\n`);
        this.timeOut();
        return;
      }
      if (count === 0) {
        // Poll a little longer before going back to epoll: the next batch is usually on its way.
        const now = process.hrtime.bigint();
        if (idleSince === 0n) idleSince = now;
        if (now - idleSince > SPIN_NS) return;
        continue;
      }
      idleSince = 0n;
      let valid = 0;
      for (let i = 0; i < count && !this.ended; i++) {
        if (this.handleDatagram(this.socket.rxData, this.socket.slotOffset(i), this.socket.length(i))) valid++;
      }
      // Only datagrams that pass the size checks keep a dump alive (spec §6.6).
      if (valid > 0) this.lastMessageAt = Date.now();
      this.sendAcks();
    }
  }

  /** Handles one datagram; false if it failed the size checks. */
  private handleDatagram(data: Buffer, start: number, length: number): boolean {
    if (length < NETDUMP_HEADER_SIZE) {
      this.context.log.error(`Ignoring runt packet from ${this.ip} (got ${length})\n`);
      return false;
    }
    const type = netdumpType(data, start);
    const seqno = netdumpSeqno(data, start);
    const payloadLength = netdumpLen(data, start);
    if (length - NETDUMP_HEADER_SIZE !== payloadLength) {
      this.context.log.error(`Bad packet size from ${this.ip}\n`);
      return false;
    }
    const payloadStart = start + NETDUMP_HEADER_SIZE;
    if (type === NETDUMP_VMCORE) {
      this.handleVmcore(seqno, data, start, payloadLength);
      return true;
    }
    const payload = data.subarray(payloadStart, payloadStart + payloadLength);
    switch (type) {
      case NETDUMP_KDH:
        this.handleKdh(seqno, payload);
        break;
      case NETDUMP_EKCD_KEY:
        // netdumpd keeps the key's offset in 32 bits.
        this.handleEkcdKey(seqno, netdumpOffsetLow(data, start), payload);
        break;
      case NETDUMP_FINISHED:
        this.handleFinished(seqno);
        break;
      default:
        this.context.log.error(`Received unexpected message type ${type} from ${this.ip}\n`);
    }
    return true;
  }

  /** The hot path: the payload is copied straight from the receive slot, no view made. */
  private handleVmcore(seqno: number, data: Buffer, header: number, length: number): void {
    this.anyDataReceived = true;
    if (seqno % PROGRESS_EVERY === 0) this.context.log.info('.');
    const start = header + NETDUMP_HEADER_SIZE;
    const offset = netdumpOffset(data, header);
    if (offset + length > Number.MAX_SAFE_INTEGER) {
      // Past exact numbers: written at once at its exact 64-bit offset, as netdumpd's pwrite would.
      if (this.flushVmcore() && this.writeVmcore(data.subarray(start, start + length), netdumpOffset64(data, header))) this.queueAck(seqno);
      return;
    }
    const full = this.vmcoreLength + NETDUMP_DATASIZE > VMCORE_BUFFER_SIZE;
    const apart = this.vmcoreLength > 0 && this.vmcoreOffset + this.vmcoreLength !== offset;
    if ((full || apart) && !this.flushVmcore()) return;
    data.copy(this.vmcore, this.vmcoreLength, start, start + length);
    if (this.vmcoreLength === 0) this.vmcoreOffset = offset;
    this.vmcoreLength += length;
    this.queueAck(seqno);
  }

  private handleKdh(seqno: number, payload: Buffer): void {
    this.anyDataReceived = true;
    this.context.log.info(`(KDH from ${this.who})\n`);
    this.queueAck(seqno); // netdumpd acks before it looks at the header
    if (payload.length < KERNELDUMPHEADER_SIZE) {
      this.context.log.error(`Bad KDH from ${this.who}: packet too small\n`);
      this.info('Bad KDH: packet too small\n');
      return;
    }
    const kdh = describeKdh(payload);
    this.info(kdh.info);
    if (kdh.encrypted) this.renameCore(`vmcore_encrypted.${this.hostname}.${this.files.index}`);
    if (kdh.compressionSuffix !== undefined) {
      this.renameCore(this.files.coreName + kdh.compressionSuffix);
      if (!this.flushVmcore()) return;
      if (kdh.dumpLength > BigInt(Number.MAX_SAFE_INTEGER)) {
        this.context.log.error(`ftruncate(): a dump length of ${kdh.dumpLength} bytes is past what a file can hold\n`);
        return;
      }
      try {
        ftruncateSync(this.files.coreFd, Number(kdh.dumpLength < 0n ? 0n : kdh.dumpLength));
      } catch (error) {
        this.context.log.error(`ftruncate(): ${strerror(error)}\n`);
      }
    }
  }

  private handleEkcdKey(seqno: number, offset: number, payload: Buffer): void {
    if (this.keyFd === undefined) {
      const name = `key.${this.hostname}.${this.files.index}`;
      try {
        this.keyFd = openForWriting(this.files.dir, name, 0o400);
      } catch (error) {
        this.context.log.error(`openat(${printable(name)}): ${strerror(error)}\n`);
        return;
      }
      this.context.log.info(`(EKCD key from ${this.who})\n`);
    }
    try {
      pwriteAll(this.keyFd, payload, BigInt(offset));
    } catch (error) {
      this.context.log.error(`write(): ${strerror(error)}\n`);
      return;
    }
    this.queueAck(seqno);
  }

  private handleFinished(seqno: number): void {
    if (!this.flushVmcore()) return;
    try {
      fsyncSync(this.files.coreFd);
    } catch (error) {
      this.context.log.error(`fsync(): ${strerror(error)}\n`);
    }
    this.linkLast('vmcore', this.files.coreName);
    this.linkLast('info', this.files.infoName);
    this.context.log.info(`Completed dump from client ${this.who}\n`);
    this.info('Dump complete\n');
    this.queueAck(seqno);
    this.end('success');
  }

  /** Writes the buffered VMCORE data; on failure ends the dump as netdumpd does and returns false. */
  private flushVmcore(): boolean {
    if (this.vmcoreLength === 0) return true;
    if (!this.writeVmcore(this.vmcore.subarray(0, this.vmcoreLength), BigInt(this.vmcoreOffset))) return false;
    this.vmcoreLength = 0;
    return true;
  }

  /** pwrite at an exact 64-bit offset; a failure ends the dump as a write error, and returns false. */
  private writeVmcore(data: Buffer, offset: bigint): boolean {
    try {
      pwriteAll(this.files.coreFd, data, offset);
      return true;
    } catch (error) {
      const reason = strerror(error);
      this.context.log.error(`pwrite (for client ${this.who}): ${reason}\n`);
      this.info(`Dump unsuccessful: write error @ offset ${offset.toString(16).padStart(8, '0')}: ${reason}\n`);
      this.vmcoreLength = 0;
      this.end('error');
      return false;
    }
  }

  private renameCore(newName: string): void {
    try {
      this.files.dir.rename(this.files.coreName, newName);
      this.files.coreName = newName;
    } catch (error) {
      this.context.log.warn(`Couldn't rename '${printable(this.coreFile)}': ${strerror(error)}\n`);
    }
  }

  private linkLast(kind: 'vmcore' | 'info', target: string): void {
    const link = `${kind}.${this.hostname}.last`;
    try {
      this.files.dir.unlink(link);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') {
        this.context.log.error(`unlinkat(): ${strerror(error)}\n`);
        return;
      }
    }
    try {
      this.files.dir.symlink(target, link);
    } catch (error) {
      this.context.log.error(`symlink(): ${strerror(error)}\n`);
    }
  }

  private info(text: string): void {
    try {
      writeSync(this.files.infoFd, text, null, 'latin1');
    } catch (error) {
      this.context.log.error(`info file for ${this.who}: ${strerror(error)}\n`);
    }
  }

  private queueAck(seqno: number): void {
    if (this.pendingAcks === this.acks.length) this.sendAcks();
    setNetdumpAckSeqno(this.acks[this.pendingAcks++]!, 0, seqno);
  }

  private sendAcks(): void {
    if (this.pendingAcks === 0) return;
    try {
      this.socket.sendBatch(this.acks, this.pendingAcks);
    } catch (error) {
      // The client retransmits what is not acked; netdumpd only logs this too.
      this.context.log.error(`${(error as Error).message}\n`);
    }
    this.pendingAcks = 0;
  }

  /**
   * netdumpd's free_client, after the handler: acks still owed go out first.
   * A step that fails is logged and the next one still runs, and the server
   * always hears of the end: a session it never hears of keeps its slot.
   */
  private end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.sendAcks();
      this.attempt('cannot run the handler', () => this.context.runHandler(reason, this));
      this.attempt('close(socket)', () => this.socket.close());
      for (const fd of [this.keyFd, this.files.infoFd, this.files.coreFd]) {
        if (fd !== undefined) this.attempt('close()', () => closeSync(fd));
      }
      this.attempt('close(directory)', () => this.files.dir.close());
    } finally {
      this.context.onEnd(this);
    }
  }

  /** One step of ending a dump: its failure is logged as "what: reason", and does not stop the next step. */
  private attempt(what: string, step: () => void): void {
    try {
      step();
    } catch (error) {
      this.context.log.error(`${what}: ${strerror(error)}\n`);
    }
  }
}
