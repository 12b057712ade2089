/** Ports and statsd sends for tests: always 127.0.0.1, ports always chosen by the kernel. */
import dgram from 'node:dgram';
import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (for programs that take a port, not 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** One UDP datagram to 127.0.0.1:port (statsd lines joined by the caller). */
export async function sendUdp(port: number, text: string): Promise<void> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => s.send(Buffer.from(text), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  } finally {
    s.close();
  }
}

/** One TCP connection to 127.0.0.1:port that writes `text` (or the lines, each ended by \n) and closes. */
export async function sendTcp(port: number, text: string | readonly string[]): Promise<void> {
  const body = typeof text === 'string' ? text : text.join('\n') + '\n';
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.end(body, () => resolve()));
    c.once('error', reject);
  });
}
