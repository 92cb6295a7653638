// Messages shown to the user; errors always say what to do (hint). Nothing fails silently.
import type { ErrorInfo } from '../../../shared/contract';
import { StudioCallError } from '../studio/studio';
import { toErrorInfo } from '../../../shared/errors';

/** A button on a toast; pressing it runs `run` and closes the toast. */
export interface ToastAction { label: string; run: () => void }

export interface Toast { id: number; kind: 'error' | 'info'; title: string; message: string; hint: string; action?: ToastAction }

let nextId = 1;

export class Toasts {
  items = $state<Toast[]>([]);

  error(title: string, err: unknown): void {
    const info: ErrorInfo = err instanceof StudioCallError ? err.info : toErrorInfo(err);
    this.push({ kind: 'error', title, message: info.message, hint: info.hint });
  }

  problem(info: ErrorInfo): void {
    this.push({ kind: 'error', title: info.code === 'disconnected' ? 'Disconnected' : 'Problem', message: info.message, hint: info.hint });
  }

  info(title: string, message: string, ttlMs = 5000): void {
    const id = this.push({ kind: 'info', title, message, hint: '' });
    setTimeout(() => this.dismiss(id), ttlMs);
  }

  /** A notice that stays until the user dismisses it or presses its action (it blocks nothing). */
  notice(title: string, message: string, action?: ToastAction): void {
    this.push({ kind: 'info', title, message, hint: '', ...(action ? { action } : {}) });
  }

  private push(t: Omit<Toast, 'id'>): number {
    const id = nextId++;
    this.items = [...this.items.slice(-4), { ...t, id }];
    return id;
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }
}
