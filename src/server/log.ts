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
