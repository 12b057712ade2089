/**
 * The floor for any Node.js statsd receiver: a bare UDP socket that only counts lines (newlines
 * plus the unterminated last line). Reports its count on an IPC "report" message.
 * Usage: node bare-udp.js  (forked; sends {port} when bound)
 */
import dgram from 'node:dgram';

let lines = 0;
let packets = 0;
const sock = dgram.createSocket('udp4');
sock.on('message', (msg: Buffer) => {
  packets++;
  let n = 1;
  let i = msg.indexOf(10);
  while (i !== -1) {
    if (i === msg.length - 1) break; // a trailing newline ends the last line, it does not start one
    n++;
    i = msg.indexOf(10, i + 1);
  }
  lines += n;
});
sock.bind(0, '127.0.0.1', () => {
  try {
    sock.setRecvBufferSize(32 * 1024 * 1024);
  } catch {
    // Capped by net.core.rmem_max: measured as is.
  }
  process.send?.({ port: sock.address().port });
});
process.on('message', (m: unknown) => {
  if (m === 'report') process.send?.({ lines, packets });
  if (m === 'exit') process.exit(0);
});
