/**
 * A one-line spinner for a terminal: redrawn in place with a carriage return,
 * cut to the terminal's width so it never wraps (a wrapped line cannot be
 * cleared reliably). Only for TTYs; callers print plain lines otherwise.
 */
import pc from 'picocolors';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const INTERVAL_MS = 80;

export interface SpinnerStream {
  write(text: string): boolean;
  columns?: number;
}

export class Spinner {
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(
    private text: string,
    private readonly stream: SpinnerStream = process.stderr,
  ) {}

  start(): this {
    if (this.timer !== undefined) return this;
    this.timer = setInterval(() => this.render(), INTERVAL_MS);
    this.timer.unref();
    this.render();
    return this;
  }

  update(text: string): void {
    this.text = text;
  }

  /** Removes the line, so that something else can be printed in its place. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[2K');
    this.shown = false;
  }

  render(): void {
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    const frame = FRAMES[this.frame++ % FRAMES.length];
    const line = `${frame} ${this.text}`;
    const cut = line.length > width ? `${line.slice(0, width - 1)}…` : line;
    this.stream.write(`\r\x1b[2K${pc.yellow(cut.slice(0, 1))}${cut.slice(1)}`);
    this.shown = true;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  get spinning(): boolean {
    return this.timer !== undefined;
  }
}
