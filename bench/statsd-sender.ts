/**
 * Benchmark sender: blasts ~20-line statsd datagrams at 127.0.0.1 at a fixed line rate (or flat
 * out with rate 0) for a bounded time, then prints what it sent as JSON on stdout.
 * Usage: node statsd-sender.js PORT RATE_LINES_PER_S DURATION_MS
 */
import dgram from 'node:dgram';

const [portArg, rateArg, durArg] = process.argv.slice(2);
const port = Number(portArg);
const rate = Number(rateArg);
const durationMs = Math.min(Number(durArg), 60_000);
const LINES_PER_DATAGRAM = 20;

/** A realistic mix over 1,000 names: counters, sampled timers, gauges, DogStatsD tags. */
export function buildDatagrams(count: number): Buffer[] {
  const out: Buffer[] = [];
  let n = 0;
  for (let d = 0; d < count; d++) {
    const lines: string[] = [];
    for (let l = 0; l < LINES_PER_DATAGRAM; l++, n++) {
      const name = `loadtest.svc${n % 25}.endpoint${Math.floor(n / 25) % 40}`;
      switch (n % 10) {
        case 0:
        case 1:
        case 2:
          lines.push(`${name}.requests:1|c`);
          break;
        case 3:
          lines.push(`${name}.requests:1|c|#env:prod,route:/r${n % 7}`);
          break;
        case 4:
        case 5:
          lines.push(`${name}.latency:${(n % 997) / 7}|ms|@0.5`);
          break;
        case 6:
          lines.push(`${name}.latency:${n % 311}|ms|#env:prod,route:/r${n % 7}`);
          break;
        case 7:
        case 8:
          lines.push(`${name}.active:${n % 100}|g`);
          break;
        default:
          lines.push(`${name}.bytes:${n % 4096}|h|#env:prod`);
      }
    }
    out.push(Buffer.from(lines.join('\n')));
  }
  return out;
}

if (process.argv[1]?.endsWith('statsd-sender.js')) {
  const datagrams = buildDatagrams(1000);
  const sock = dgram.createSocket('udp4');
  sock.on('error', () => {}); // ECONNREFUSED from a receiver that went away: the count says enough.
  sock.connect(port, '127.0.0.1', () => {
    const start = performance.now();
    let sent = 0;
    let i = 0;
    const perMs = rate / LINES_PER_DATAGRAM / 1000;
    const tick = (): void => {
      const elapsed = performance.now() - start;
      if (elapsed >= durationMs) {
        process.stdout.write(JSON.stringify({ datagrams: sent, lines: sent * LINES_PER_DATAGRAM, elapsedMs: elapsed }) + '\n');
        sock.close();
        return;
      }
      // Fixed rate: catch up to where the schedule says we should be; flat out: a burst per turn.
      const target = rate > 0 ? Math.floor(elapsed * perMs) : sent + 64;
      while (sent < target) {
        sock.send(datagrams[i]!);
        i = (i + 1) % datagrams.length;
        sent++;
      }
      setImmediate(tick);
    };
    tick();
  });
}
