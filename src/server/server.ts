/**
 * The netdumpd-compatible server's event loop: heralds on port 20023,
 * sessions keyed by client IP, idle timeouts (spec §6.2–§6.4, §6.8).
 *
 * netdumpd learns a herald's destination address with IP_RECVDSTADDR;
 * Node's dgram cannot, so the herald socket is the addon's UdpSocket with
 * IP_PKTINFO, and each client gets a socket bound to that address with a
 * kernel-chosen port and connected to client-ip:20024, as netdumpd does.
 */
import { UdpSocket } from '../../native/index.js';
import {
  formatIpv4Address,
  NETDUMP_ACKPORT,
  NETDUMP_DATASIZE,
  NETDUMP_HEADER_SIZE,
  NETDUMP_HERALD,
  NETDUMP_HERALD_PATH_MAX,
  NETDUMP_PORT,
  netdumpLen,
  netdumpSeqno,
  netdumpType,
} from '../wire/index.js';
import { describeClient, openFilesForHerald } from './client-files.js';
import { DumpDirectory } from './dumpdir.js';
import { runHandler } from './handler.js';
import { clientHostname } from './hostname.js';
import { printable, type Logger } from './log.js';
import { Session, type EndReason } from './session.js';

/** netdumpd reads heralds into 24 + MAXPATHLEN bytes. */
const HERALD_SLOT_SIZE = NETDUMP_HEADER_SIZE + NETDUMP_HERALD_PATH_MAX;
/** netdumpd's client receive buffer: one header and at most 4096 bytes of payload. */
const CLIENT_SLOT_SIZE = NETDUMP_HEADER_SIZE + NETDUMP_DATASIZE;
/** "approximately twice the chunk size" (spec §6.10). */
const CLIENT_RECEIVE_BUFFER = 128 * 1024;

export interface ServerOptions {
  dumpDir: string;
  /** Address to listen on; all addresses if undefined. */
  bindAddress?: string;
  heraldPort?: number;
  /** Subdirectory of the dump directory for clients that name no usable path. */
  defaultPath?: string;
  handlerScript?: string;
  /** Idle seconds before a dump is abandoned (netdumpd: 600). */
  clientTimeout?: number;
  /** Seconds between idle checks (netdumpd: 10). */
  timeoutCheckInterval?: number;
  /** Seconds to wait for reverse DNS before using the numeric address. */
  dnsTimeout?: number;
  /** Dumps received at once (sessions, and heralds being answered); past it a herald ends a dump without data, or is refused. */
  maxSessions?: number;
  log: Logger;
}

/** Default for ServerOptions.maxSessions: each session holds 4 descriptors (5 with a key) and about 0.5 MiB. */
export const DEFAULT_MAX_SESSIONS = 64;
/** At most one "refusing heralds" line in this many milliseconds. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * A session whose herald is being answered: the reverse DNS lookup runs
 * asynchronously here (netdumpd blocks on it), so heralds the client repeats
 * meanwhile are kept and acked once the session exists, as netdumpd acks a
 * repeated herald from the session's socket.
 */
class Starting {
  readonly repeatedSeqnos: number[] = [];

  /** Keeps a repeated herald's seqno; a client repeats it a few times, a flood is not kept. */
  repeated(seqno: number): void {
    if (this.repeatedSeqnos.length < MAX_REPEATED_HERALDS) this.repeatedSeqnos.push(seqno);
  }
}

/** More than the kernel's retries (10) of a herald while its lookup runs. */
const MAX_REPEATED_HERALDS = 16;

interface Herald {
  clientIp: number;
  serverIp: number;
  seqno: number;
  path: Buffer | undefined;
}

export class NetdumpServer {
  private readonly heraldSocket = new UdpSocket({ pktinfo: true, slotSize: HERALD_SLOT_SIZE, rxSlots: 16 });
  private readonly sessions = new Map<number, Session | Starting>();
  private readonly dumpDir: DumpDirectory;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly refusals = new RateLimitedLine(REFUSAL_LOG_INTERVAL_MS);

  constructor(private readonly options: ServerOptions) {
    this.dumpDir = new DumpDirectory(options.dumpDir);
    this.log = options.log;
  }

  /** Binds the herald port and starts serving; throws if openat2(2) cannot be used or the port cannot be bound. */
  start(): void {
    this.dumpDir.checkOpenat2();
    this.heraldSocket.bind(this.options.bindAddress ?? '0.0.0.0', this.options.heraldPort ?? NETDUMP_PORT);
    this.heraldSocket.onReadable(() => this.receiveHeralds());
    const checkEvery = this.options.timeoutCheckInterval ?? Math.min(10, this.clientTimeout);
    this.timer = setInterval(() => this.timeOutIdleClients(), checkEvery * 1000);
    this.log.info('Waiting for clients.\n');
  }

  /** The herald port actually bound (useful with port 0). */
  get heraldPort(): number {
    return this.heraldSocket.localAddress().port;
  }

  /** Ends every open dump as timed out (so handlers run), then stops listening. */
  stop(): void {
    this.log.info('Shutting down...\n');
    this.stopped = true;
    clearInterval(this.timer);
    for (const session of this.sessions.values()) {
      if (session instanceof Session) session.timeOut();
    }
    this.heraldSocket.close();
    this.dumpDir.close();
  }

  private get maxSessions(): number {
    return this.options.maxSessions ?? DEFAULT_MAX_SESSIONS;
  }

  private get clientTimeout(): number {
    return this.options.clientTimeout ?? 600;
  }

  private timeOutIdleClients(): void {
    const now = Date.now();
    for (const session of this.sessions.values()) {
      if (session instanceof Session && session.lastMessageAt + this.clientTimeout * 1000 < now) session.timeOut();
    }
  }

  private receiveHeralds(): void {
    for (;;) {
      let count: number;
      try {
        count = this.heraldSocket.recvBatch(16);
      } catch (error) {
        this.log.error(`${(error as Error).message}\n`);
        return;
      }
      if (count === 0) return;
      for (let i = 0; i < count; i++) {
        const herald = this.parseHerald(i);
        if (herald !== undefined) this.handleHerald(herald);
      }
    }
  }

  /** netdumpd's herald checks (spec §6.3); a bad herald is logged and never acked. */
  private parseHerald(index: number): Herald | undefined {
    const socket = this.heraldSocket;
    const datagram = socket.payload(index);
    const from = `${formatIpv4Address(socket.sourceAddress(index))}:${socket.sourcePort(index)}`;
    const refuse = (reason: string) => {
      this.log.error(`Ignoring herald from ${from}: ${reason}\n`);
      return undefined;
    };
    if (datagram.length < NETDUMP_HEADER_SIZE) return refuse(`runt packet (got ${datagram.length})`);
    const type = netdumpType(datagram);
    const payloadLength = netdumpLen(datagram);
    if (type !== NETDUMP_HERALD) return refuse(`message type ${type} is not a herald`);
    if (datagram.length - NETDUMP_HEADER_SIZE !== payloadLength) return refuse(`bad packet size (length ${payloadLength})`);
    if (socket.destinationAddress(index) === 0) return refuse('no destination address');
    return {
      clientIp: socket.sourceAddress(index),
      serverIp: socket.destinationAddress(index),
      seqno: netdumpSeqno(datagram),
      path: heraldPath(datagram.subarray(NETDUMP_HEADER_SIZE)),
    };
  }

  private handleHerald(herald: Herald): void {
    const existing = this.sessions.get(herald.clientIp);
    if (existing instanceof Starting) {
      existing.repeated(herald.seqno);
      return;
    }
    if (existing !== undefined) {
      if (!existing.anyDataReceived) {
        existing.ackNow(herald.seqno); // a retransmitted herald
        return;
      }
      existing.timeOut();
    }
    if (this.sessions.size >= this.maxSessions) this.endSilentSessionFor(herald);
    if (this.sessions.size >= this.maxSessions) {
      this.refuseHerald(herald);
      return;
    }
    const starting = new Starting();
    this.sessions.set(herald.clientIp, starting);
    this.startSession(herald, starting).then(
      (session) => {
        if (session === undefined) this.sessions.delete(herald.clientIp);
      },
      (error: unknown) => {
        this.sessions.delete(herald.clientIp);
        this.log.error(`new client allocation failure: ${(error as Error).message}\n`);
      },
    );
  }

  /**
   * A full table and a new herald: the session idle longest of those that
   * never sent data is ended as a timeout, so that spoofed heralds cannot
   * keep a real client out until --timeout. Sessions with data are kept.
   */
  private endSilentSessionFor(herald: Herald): void {
    const silent = this.longestIdleSilentSession();
    if (silent === undefined) return;
    this.log.info(
      `Ending the dump from ${describeClient(silent)}, which has sent no data, ` +
        `for a herald from ${formatIpv4Address(herald.clientIp)} (--max-sessions ${this.maxSessions})\n`,
    );
    silent.timeOut();
  }

  private longestIdleSilentSession(): Session | undefined {
    let longest: Session | undefined;
    for (const session of this.sessions.values()) {
      if (!(session instanceof Session) || session.anyDataReceived) continue;
      if (longest === undefined || session.lastMessageAt < longest.lastMessageAt) longest = session;
    }
    return longest;
  }

  /** One log line per interval, however many heralds arrive past the limit. */
  private refuseHerald(herald: Herald): void {
    const suppressed = this.refusals.take();
    if (suppressed === undefined) return;
    const more = suppressed > 0 ? ` (${suppressed} more refused since the last such line)` : '';
    this.log.error(
      `Refusing herald from ${formatIpv4Address(herald.clientIp)}: ${this.maxSessions} dumps in progress (--max-sessions)${more}\n`,
    );
  }

  private async startSession(herald: Herald, starting: Starting): Promise<Session | undefined> {
    const ip = formatIpv4Address(herald.clientIp);
    const socket = new UdpSocket({ slotSize: CLIENT_SLOT_SIZE, rxSlots: 64, receiveBuffer: CLIENT_RECEIVE_BUFFER });
    try {
      socket.bind(formatIpv4Address(herald.serverIp), 0);
      socket.connect(ip, NETDUMP_ACKPORT);
    } catch (error) {
      socket.close();
      this.log.error(`${(error as Error).message}\n`);
      return undefined;
    }
    const hostname = await clientHostname(ip, (this.options.dnsTimeout ?? 2) * 1000);
    if (this.stopped) {
      socket.close(); // the dump directory is closed: no files for a dump that would never be served
      return undefined;
    }
    const client = { hostname, ip };
    let files;
    try {
      files = openFilesForHerald(this.dumpDir, herald.path, this.options.defaultPath ?? '.', client, this.log);
    } catch (error) {
      socket.close();
      throw error;
    }
    if (files === undefined) {
      socket.close();
      this.log.error('server_event(): new client allocation failure\n');
      return undefined;
    }
    const session = new Session(ip, hostname, socket, files, {
      log: this.log,
      runHandler: (reason, ended) => this.runHandler(reason, ended),
      onEnd: (ended) => {
        if (this.sessions.get(herald.clientIp) === ended) this.sessions.delete(herald.clientIp);
      },
    });
    this.sessions.set(herald.clientIp, session);
    session.start();
    this.log.info(`New dump from client ${describeClient(client)} (to ${printable(session.coreFile)})\n`);
    session.ackNow(herald.seqno);
    for (const seqno of starting.repeatedSeqnos) session.ackNow(seqno);
    return session;
  }

  private runHandler(reason: EndReason, session: Session): void {
    if (this.options.handlerScript === undefined) return;
    runHandler(
      this.options.handlerScript,
      this.dumpDir.root,
      {
        reason,
        ip: session.ip,
        hostname: session.hostname,
        infoFile: session.infoFile.toString('utf8'),
        coreFile: session.coreFile.toString('utf8'),
      },
      this.log,
    );
  }
}

/** The herald's path, as bytes: used only if 1..1024 bytes long and NUL-terminated (spec §6.3). */
function heraldPath(payload: Buffer): Buffer | undefined {
  if (payload.length === 0 || payload.length > NETDUMP_HERALD_PATH_MAX || payload[payload.length - 1] !== 0) return undefined;
  const path = payload.subarray(0, payload.indexOf(0));
  return path.length > 0 ? Buffer.from(path) : undefined;
}

/**
 * Lets a log line through at most once per interval; take() says whether
 * this one goes out, and how many were held back since the last that did.
 */
class RateLimitedLine {
  private lastAt = -Infinity;
  private held = 0;

  constructor(private readonly intervalMs: number) {}

  take(): number | undefined {
    const now = performance.now();
    if (now - this.lastAt < this.intervalMs) {
      this.held++;
      return undefined;
    }
    const held = this.held;
    this.lastAt = now;
    this.held = 0;
    return held;
  }
}
