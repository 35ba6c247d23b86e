/**
 * One client's dump, from its herald to FINISHED, timeout or write error:
 * netdumpd's client_event and one handler per message type (spec §6.6),
 * with batched receive and batched acks. Every valid message is acked with
 * its own sequence number; nothing is tracked, so duplicates and reordering
 * are harmless: data lands at its offset.
 */
import { closeSync, fsyncSync, ftruncateSync, renameSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

import type { UdpSocket } from '../../native/index.js';
import {
  NETDUMP_DATASIZE,
  NETDUMP_EKCD_KEY,
  NETDUMP_FINISHED,
  NETDUMP_HEADER_SIZE,
  NETDUMP_KDH,
  NETDUMP_VMCORE,
  KERNELDUMPHEADER_SIZE,
} from '../wire/index.js';
import type { ClientFiles } from './client-files.js';
import { openForWriting, type DumpDirectory } from './dumpdir.js';
import { describeKdh } from './kdh-info.js';
import type { Logger } from './log.js';
import { strerror } from './strerror.js';

const VMCORE_BUFFER_SIZE = 128 * 1024;
const RECEIVE_BATCH = 64;
/** netdumpd logs a "." about every 16 MB at MTU 1500. */
const PROGRESS_EVERY = Math.floor((16 * 1024 * 1024) / 1456);
const TWO_TO_32 = 2 ** 32;
/**
 * After a datagram, keep polling this long before going back to epoll: a
 * sender's next packets are usually microseconds away, and one wake-up per
 * batch instead of per packet is most of what beats a plain per-packet server.
 */
const SPIN_NS = 50_000n;

export type EndReason = 'success' | 'timeout' | 'error';

export interface SessionContext {
  dumpDir: DumpDirectory;
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
  private vmcoreOffset = 0;
  private keyFd: number | undefined;
  private readonly acks = Array.from({ length: RECEIVE_BATCH }, () => Buffer.alloc(4));
  private pendingAcks = 0;

  constructor(
    readonly ip: string,
    readonly hostname: string,
    private readonly socket: UdpSocket,
    readonly files: ClientFiles,
    private readonly context: SessionContext,
  ) {}

  get infoFile(): string {
    return this.files.infoFile;
  }

  get coreFile(): string {
    return this.files.coreFile;
  }

  private get who(): string {
    return `${this.hostname} [${this.ip}]`;
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

  timeOut(): void {
    this.context.log.info(`Client ${this.ip} timed out\n`);
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
    const type = data.readUInt32BE(start);
    const seqno = data.readUInt32BE(start + 4);
    const offset = data.readUInt32BE(start + 8) * TWO_TO_32 + data.readUInt32BE(start + 12);
    const payloadLength = data.readUInt32BE(start + 16);
    if (length - NETDUMP_HEADER_SIZE !== payloadLength) {
      this.context.log.error(`Bad packet size from ${this.ip}\n`);
      return false;
    }
    const payloadStart = start + NETDUMP_HEADER_SIZE;
    if (type === NETDUMP_VMCORE) {
      this.handleVmcore(seqno, offset, data, payloadStart, payloadLength);
      return true;
    }
    const payload = data.subarray(payloadStart, payloadStart + payloadLength);
    switch (type) {
      case NETDUMP_KDH:
        this.handleKdh(seqno, payload);
        break;
      case NETDUMP_EKCD_KEY:
        this.handleEkcdKey(seqno, offset, payload);
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
  private handleVmcore(seqno: number, offset: number, data: Buffer, start: number, length: number): void {
    this.anyDataReceived = true;
    if (seqno % PROGRESS_EVERY === 0) this.context.log.info('.');
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
      this.renameCore(path.basename(this.files.coreFile) + kdh.compressionSuffix);
      if (!this.flushVmcore()) return;
      try {
        ftruncateSync(this.files.coreFd, Number(kdh.dumpLength < 0n ? 0n : kdh.dumpLength));
      } catch (error) {
        this.context.log.error(`ftruncate(): ${strerror(error)}\n`);
      }
    }
  }

  private handleEkcdKey(seqno: number, offset: number, payload: Buffer): void {
    if (this.keyFd === undefined) {
      const keyFile = `${this.files.path}/key.${this.hostname}.${this.files.index}`;
      try {
        this.keyFd = openForWriting(this.context.dumpDir.absolute(keyFile), 0o400);
      } catch (error) {
        this.context.log.error(`openat(): ${strerror(error)}\n`);
        return;
      }
      this.context.log.info(`(EKCD key from ${this.who})\n`);
    }
    try {
      // netdumpd keeps the key's offset in 32 bits.
      writeAll(this.keyFd, payload, offset % TWO_TO_32);
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
    this.linkLast('vmcore', this.files.coreFile);
    this.linkLast('info', this.files.infoFile);
    this.context.log.info(`Completed dump from client ${this.who}\n`);
    this.info('Dump complete\n');
    this.queueAck(seqno);
    this.end('success');
  }

  /** Writes the buffered VMCORE data; on failure ends the dump as netdumpd does and returns false. */
  private flushVmcore(): boolean {
    if (this.vmcoreLength === 0) return true;
    try {
      writeAll(this.files.coreFd, this.vmcore.subarray(0, this.vmcoreLength), this.vmcoreOffset);
    } catch (error) {
      const reason = strerror(error);
      this.context.log.error(`pwrite (for client ${this.who}): ${reason}\n`);
      this.info(`Dump unsuccessful: write error @ offset ${this.vmcoreOffset.toString(16).padStart(8, '0')}: ${reason}\n`);
      this.end('error');
      return false;
    }
    this.vmcoreLength = 0;
    return true;
  }

  private renameCore(newName: string): void {
    const renamed = `${path.dirname(this.files.coreFile)}/${newName}`;
    try {
      renameSync(this.context.dumpDir.absolute(this.files.coreFile), this.context.dumpDir.absolute(renamed));
      this.files.coreFile = renamed;
    } catch (error) {
      this.context.log.warn(`Couldn't rename '${this.files.coreFile}': ${strerror(error)}\n`);
    }
  }

  private linkLast(kind: 'vmcore' | 'info', target: string): void {
    const link = this.context.dumpDir.absolute(`${this.files.path}/${kind}.${this.hostname}.last`);
    try {
      unlinkSync(link);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.context.log.error(`unlinkat(): ${strerror(error)}\n`);
        return;
      }
    }
    try {
      symlinkSync(path.basename(target), link);
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
    this.acks[this.pendingAcks++]!.writeUInt32BE(seqno);
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

  /** netdumpd's free_client, after the handler: acks still owed go out first. */
  private end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.sendAcks();
    this.context.runHandler(reason, this);
    this.socket.close();
    for (const fd of [this.keyFd, this.files.infoFd, this.files.coreFd]) {
      if (fd !== undefined) closeSync(fd);
    }
    this.context.onEnd(this);
  }
}

function writeAll(fd: number, data: Buffer, position: number): void {
  for (let written = 0; written < data.length; ) {
    written += writeSync(fd, data, written, data.length - written, position + written);
  }
}
