/** A progress bar on stderr: redrawn in place on a terminal, one line per step otherwise. */
export class Progress {
  private readonly tty: boolean;
  constructor(private readonly enabled: boolean, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, total: number, label: string): void {
    if (!this.enabled) return;
    const width = 24;
    const filled = Math.round((done / total) * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${bar}`);
    else this.stream.write(`${bar}\n`);
  }

  end(): void {
    if (this.enabled && this.tty) this.stream.write('\n');
  }
}

/** "12.3 img/s, ETA 1:02:03" from images done so far, images to do in all, and elapsed time. */
export function rateLabel(done: number, total: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  if (rate <= 0) return '';
  const left = Math.max(0, Math.round((total - done) / rate));
  const h = Math.floor(left / 3600);
  const mm = String(Math.floor((left % 3600) / 60)).padStart(h ? 2 : 1, '0');
  const ss = String(left % 60).padStart(2, '0');
  return `${rate.toFixed(rate < 10 ? 2 : 1)} img/s, ETA ${h ? `${h}:` : ''}${mm}:${ss}`;
}
