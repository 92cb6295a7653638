/** Resumable, verified downloads of large files (Node only; used by the model manager and the CLI). */
export { Download, discardPartial, partPath, partStatePath, partialProgress } from './download';
export type { DownloadEvent, DownloadOptions, DownloadResult, PartState } from './download';
export { DownloadError, type DownloadErrorCode } from './errors';
export { proxyAwareDispatcher } from './http';
export { RateMeter, formatBytes, formatDuration } from './rate';
