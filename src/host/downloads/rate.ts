/** Transfer rate over a sliding window, and the human units the progress lines use. */

export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];
  constructor(private readonly windowMs = 5000) {}

  /** Records that `bytes` in total had arrived at time `t` (ms). */
  sample(t: number, bytes: number): void {
    this.samples.push({ t, bytes });
    // keep one sample older than the window so the rate always spans the whole window
    while (this.samples.length > 2 && t - this.samples[1].t >= this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window; 0 until two samples span some time. */
  rate(): number {
    if (this.samples.length < 2) return 0;
    const a = this.samples[0], b = this.samples[this.samples.length - 1];
    return b.t > a.t ? ((b.bytes - a.bytes) * 1000) / (b.t - a.t) : 0;
  }

  /** Seconds left for `remaining` bytes at the current rate; null while the rate is unknown. */
  eta(remaining: number): number | null {
    const r = this.rate();
    return r > 0 ? remaining / r : null;
  }

  reset(): void {
    this.samples = [];
  }
}

/** 1234567 → "1.23 MB" (decimal units, as download sizes are usually shown). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/** 3725 → "1 h 02 min", 75 → "1 min 15 s", 9 → "9 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
