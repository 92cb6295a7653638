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
