/** Ports for tests: always 127.0.0.1, always chosen by the kernel. */
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
