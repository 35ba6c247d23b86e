/**
 * netdumpd's logging: printf-style lines that carry their own newlines. In
 * the foreground (-D) every line goes to stdout, as netdumpd's printf hook
 * does; a daemon logs to syslog with facility LOG_DAEMON.
 */
import { openSyslog, syslog, SyslogPriority } from '../../native/index.js';

export interface Logger {
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
}

export function foregroundLogger(write: (text: string) => void = (text) => process.stdout.write(text)): Logger {
  return { info: write, warn: write, error: write };
}

export function syslogLogger(ident = 'netdumpd'): Logger {
  openSyslog(ident);
  const send = (priority: number) => (text: string) => {
    const line = text.replace(/\n$/, '');
    if (line.length > 0) syslog(priority, line);
  };
  return { info: send(SyslogPriority.Info), warn: send(SyslogPriority.Warning), error: send(SyslogPriority.Err) };
}

/**
 * Client-supplied bytes (a herald path, a name from DNS) as they may appear
 * in a log line: printable ASCII as it is, every other byte, and the
 * backslash, as \xNN, so that no client can write control characters to a
 * terminal or forge a line.
 */
export function printable(text: Uint8Array | string): string {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let out = '';
  for (const byte of bytes) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}
