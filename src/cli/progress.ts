const BAR_WIDTH = 30;
const TTY_REDRAW_MS = 100;
const LOG_STEP_PERCENT = 10;

/**
 * Progress on stderr (stdout stays for results). On a terminal: one bar redrawn in place; in a
 * pipe or a log: a plain line at every 10 %, so the output stays readable.
 */
export class ProgressBar {
  private lastDraw = 0;
  private lastLoggedStep = -1;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, records: number): void {
    const percent = this.total === 0 ? 100 : Math.min(100, Math.floor((done / this.total) * 100));
    if (this.stream.isTTY) {
      const now = performance.now();
      if (now - this.lastDraw < TTY_REDRAW_MS && percent < 100) return;
      this.lastDraw = now;
      this.stream.write(`\r${this.line(percent, records)}`);
      return;
    }
    const step = Math.floor(percent / LOG_STEP_PERCENT);
    if (step === this.lastLoggedStep) return;
    this.lastLoggedStep = step;
    this.stream.write(`${this.line(percent, records)}\n`);
  }

  /** Always ends with a 100 % line carrying the final record count. */
  finish(records: number): void {
    this.stream.write(`${this.stream.isTTY ? '\r' : ''}${this.line(100, records)}\n`);
  }

  private line(percent: number, records: number): string {
    const filled = Math.round((percent / 100) * BAR_WIDTH);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
    return `${this.label} [${bar}] ${String(percent).padStart(3)}% ${records.toLocaleString('en-US')} records`;
  }
}
