/**
 * The relay (`--statsd.relay.address`), as statsd_exporter's: every non-empty line received on
 * any listener (UDP, TCP, unixgram), valid or not, is forwarded unchanged to another statsd
 * server over UDP. Lines are packed into datagrams of at most `--statsd.relay.packet-length`
 * bytes (1400: no IP fragmentation on common links), each line ending in a newline; a datagram
 * leaves when the next line would not fit, and at the latest a second after its first line. A
 * line longer than a datagram can hold is not relayed and is counted.
 */
import dgram from 'node:dgram';
import type { Logger } from '../../core/log.js';
import type { ListenAddress, TransportStats } from './listeners.js';

const NL = 10;
const CR = 13;
const FLUSH_INTERVAL_MS = 1000;

export class StatsdRelay {
  private readonly sock: dgram.Socket;
  private readonly buf: Buffer;
  private used = 0;
  private readonly timer: NodeJS.Timeout;
  private inFlight = 0;
  private closing = false;

  constructor(
    private readonly addr: ListenAddress,
    private readonly packetLength: number,
    private readonly stats: TransportStats,
    private readonly logger: Logger,
  ) {
    this.sock = dgram.createSocket(addr.host.includes(':') ? 'udp6' : 'udp4');
    this.sock.on('error', (err) => logger.rateLimited('relay_error', 'statsd relay error', { error: err.message }));
    this.sock.unref();
    this.buf = Buffer.allocUnsafe(packetLength);
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** Queues the lines of `buf[start, end)` (newline-separated; a trailing `\r` is not part of a line). */
  forward(buf: Buffer, start: number, end: number): void {
    let s = start;
    while (s < end) {
      let e = buf.indexOf(NL, s);
      if (e === -1 || e > end) e = end;
      const next = e + 1;
      if (e > s && buf[e - 1] === CR) e--;
      if (e > s) this.line(buf, s, e);
      s = next;
    }
  }

  private line(buf: Buffer, s: number, e: number): void {
    const n = e - s;
    if (n > this.packetLength - 1) {
      this.stats.relayLongLines++;
      this.logger.rateLimited('relay_long_line', 'statsd line too long to relay, not relayed', { length: n, max: this.packetLength });
      return;
    }
    if (this.used + n + 1 > this.packetLength) this.flush();
    buf.copy(this.buf, this.used, s, e);
    this.buf[this.used + n] = NL;
    this.used += n + 1;
    this.stats.relayedLines++;
  }

  /** Sends what is queued as one datagram. */
  flush(): void {
    if (this.used === 0) return;
    const packet = Buffer.from(this.buf.subarray(0, this.used));
    this.used = 0;
    this.stats.relayedPackets++;
    this.inFlight++;
    this.sock.send(packet, this.addr.port, this.addr.host, () => {
      if (--this.inFlight === 0 && this.closing) this.sock.close();
    });
  }

  /** Sends what is queued, then closes the socket once the last datagram has left. */
  close(): void {
    if (this.closing) return;
    clearInterval(this.timer);
    this.flush();
    this.closing = true;
    if (this.inFlight === 0) this.sock.close();
  }
}
