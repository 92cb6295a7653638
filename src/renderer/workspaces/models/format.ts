// What the Models page says about sizes, transfer rates, time left and each model's status: pure functions.
import type { ModelStatusMsg } from '../../../shared/model-manager';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Decimal units (as disks and download sites count): 1.24 GB, 436 MB, 12 KB. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  let u = 0;
  let v = n;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  const digits = u === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${UNITS[u]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Seconds left as "45 s", "3 min 05 s", "1 h 12 min"; null (rate unknown) as "estimating…". */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return 'estimating…';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export function formatPercent(p: number): string {
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.floor(p)} %`;
}

const PHASES: Record<string, string> = {
  hashing: 'hashing the checkpoints',
  checking: 'checking every tensor',
  weights: 'writing the weights',
  preview: 'fitting the preview',
  variants: 'writing the quantized variants',
  manifest: 'finishing the bundle',
  done: 'done',
};

/** The status line of one model, in words. */
export function statusText(s: ModelStatusMsg): string {
  switch (s.state) {
    case 'not-downloaded': return 'Not downloaded';
    case 'queued': return 'Queued (waiting for the download before it)';
    case 'downloading':
      return `Downloading ${formatPercent(s.percent)} · ${formatBytes(s.received)} of ${formatBytes(s.total)} · ${s.rate > 0 ? `${formatRate(s.rate)} · ${formatEta(s.eta)} left` : 'connecting…'}`;
    case 'paused': return `Paused at ${formatPercent(s.percent)} (${formatBytes(s.received)} of ${formatBytes(s.total)} on disk)`;
    case 'verifying': return `Verifying ${s.file} (sha256) ${s.total > 0 ? formatPercent((100 * s.checked) / s.total) : ''}`.trim();
    case 'importing':
      return `Importing${s.phase ? `: ${PHASES[s.phase] ?? s.phase}` : ''}${s.fraction !== null ? ` ${formatPercent(100 * s.fraction)}` : ''}`;
    case 'ready': return 'Ready';
    case 'failed': return `Failed: ${s.message}`;
  }
}

/** 0..1 for a progress bar, or null when the step has no measurable progress. */
export function statusFraction(s: ModelStatusMsg): number | null {
  switch (s.state) {
    case 'downloading': case 'paused': return s.percent / 100;
    case 'verifying': return s.total > 0 ? s.checked / s.total : null;
    case 'importing': return s.fraction;
    default: return null;
  }
}

/** What the user can do about a failed pull, by its error code. */
export function failureHint(code: string): string {
  switch (code) {
    case 'offline': return 'Check the internet connection (or the HTTPS_PROXY setting), then press Retry: the download resumes where it stopped.';
    case 'disk-full': return 'Free some disk space (or move the models folder to a larger disk), then press Retry.';
    case 'hash-mismatch': case 'sha256-mismatch': return 'The damaged file was deleted. Press Retry to download it again.';
    case 'etag-mismatch': case 'size-mismatch': return 'The server offers a different file than the catalogue names. Check the download source (a mirror?) before retrying.';
    case 'not-found': return 'The file is not on the server. Check the download source; a mirror may not have this model.';
    case 'range-not-satisfiable': return 'The partial download no longer fits the file on the server. Press Cancel to delete it, then Download again.';
    case 'exists': return 'A folder of that name is already in the models folder. Remove the model first, then Download again.';
    default: return 'Press Retry. If it fails again, Cancel deletes the partial files so the next Download starts afresh.';
  }
}

/** Whether a pull is running for this status (Pause and Cancel apply; Download does not). */
export function isActive(s: ModelStatusMsg): boolean {
  return s.state === 'queued' || s.state === 'downloading' || s.state === 'verifying' || s.state === 'importing';
}
