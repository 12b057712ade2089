/**
 * A task run every `intervalMs`: the timer never keeps the process alive (unref), a run that is
 * still going when the next is due makes that one skip (counted), and a failing run is counted,
 * never thrown. `stop()` waits for the run in flight.
 */
export class Periodic {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly run: () => Promise<void>,
    private readonly onSkip: () => void = () => {},
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.timer) return;
    void this.fire();
    this.timer = setInterval(() => void this.fire(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async fire(): Promise<void> {
    if (this.running) return this.onSkip();
    this.running = this.run()
      .catch((err: unknown) => this.onError(err))
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }
}
