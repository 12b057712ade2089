/**
 * Minimal structured logging to stderr. Network-input problems go through `rateLimited`, which
 * logs each reason at most once per minute so a flood of bad lines cannot flood the log.
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export class Logger {
  private threshold: number;
  private readonly lastByReason = new Map<string, number>();

  constructor(
    level: Level = 'info',
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
  ) {
    this.threshold = ORDER[level];
  }

  setLevel(level: Level): void {
    this.threshold = ORDER[level];
  }

  log(level: Level, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < this.threshold) return;
    let line = `ts=${new Date().toISOString()} level=${level} msg=${JSON.stringify(msg)}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) line += ` ${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
    }
    try {
      this.write(line + '\n');
    } catch {
      // Logging never throws (a closed stderr must not stop the agent).
    }
  }

  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields);
  }

  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warn', msg, fields);
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log('debug', msg, fields);
  }

  /** Logs at most once per `reason` per `intervalMs` (default one minute). */
  rateLimited(reason: string, msg: string, fields?: Record<string, unknown>, intervalMs = 60_000): void {
    const now = Date.now();
    const last = this.lastByReason.get(reason);
    if (last !== undefined && now - last < intervalMs) return;
    this.lastByReason.set(reason, now);
    this.warn(msg, { reason, ...fields });
  }
}

export const silentLogger = new Logger('error', () => {});
