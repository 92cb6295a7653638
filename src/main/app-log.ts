// The app's log file, <userData>/logs/var-studio.log: one line per event, kept under a size limit by moving
// the previous file to var-studio.old.log. Help → Open Log File shows it.
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';

export const LOG_LIMIT_BYTES = 2 * 1024 * 1024;

export class AppLog {
  readonly file: string;

  constructor(logDir: string, private readonly limit = LOG_LIMIT_BYTES) {
    mkdirSync(logDir, { recursive: true });
    this.file = path.join(logDir, 'var-studio.log');
  }

  write(level: 'info' | 'warn' | 'error', message: string): void {
    try {
      if ((statSync(this.file, { throwIfNoEntry: false })?.size ?? 0) > this.limit) renameSync(this.file, this.file.replace(/\.log$/, '.old.log'));
      appendFileSync(this.file, `${new Date().toISOString()} ${level.padEnd(5)} ${message.replace(/\n/g, '\n    ')}\n`);
    } catch {
      // A full or read-only disk must not take the app down with it.
    }
  }
}
