/**
 * The model manager behind the contract's models.* requests (src/shared/model-manager.ts): one handler per
 * request kind, and the manager's events turned into contract events. Transport-free, like the rest of host.
 */
import type { Infer } from '../../shared/schema';
import type { ManagedModel, modelManagerEvents, modelManagerRequests } from '../../shared/model-manager';
import type { ManagerEvent, ModelManager, ModelRow } from './manager';

type Requests = typeof modelManagerRequests;
export type ModelRequestKind = keyof Requests;
type Params<K extends ModelRequestKind> = Infer<Requests[K]['params']>;
type Result<K extends ModelRequestKind> = Infer<Requests[K]['result']>;
export type ModelEventMsg = Infer<(typeof modelManagerEvents)[keyof typeof modelManagerEvents]>;

export function managedModel(r: ModelRow): ManagedModel {
  const e = r.entry;
  return {
    name: e.name, title: e.title, file: e.file, resolution: e.resolution, parameters: e.parameters,
    paramsLabel: e.readme?.paramsLabel ?? `${Math.round(e.parameters / 1e6)}M`, fid: e.readme?.fid ?? null, licence: e.licence,
    sampling: e.sampling, downloadBytes: r.downloadBytes, diskNeeded: r.diskNeeded, approximate: r.approximate, status: r.status,
  };
}

export function isModelRequestKind(kind: string): kind is ModelRequestKind {
  return kind.startsWith('models.') && ['models.catalog', 'models.pull', 'models.pause', 'models.cancel', 'models.remove', 'models.removePlan', 'models.import'].includes(kind);
}

/**
 * Answers one models.* request. A pull runs on after the answer; its end (ready, paused, failed with the
 * message) reaches the page as 'models.status' events, so its promise's rejection is not the caller's.
 */
export async function handleModelRequest<K extends ModelRequestKind>(m: ModelManager, kind: K, params: Params<K>): Promise<Result<K>> {
  const p = params as Record<string, unknown>;
  switch (kind) {
    case 'models.catalog':
      return {
        models: (await m.list()).map(managedModel), modelsDir: m.modelsDir, source: m.baseUrl, localFiles: await m.localCheckpoints(), freeBytes: await m.freeSpace().then((b) => (b === null ? null : Math.min(b, 2 ** 45))),
      } as Result<K>;
    case 'models.pull':
      m.pull(p.name as string).catch(() => undefined);
      return { status: m.status(p.name as string) } as Result<K>;
    case 'models.pause':
      return { status: await m.pause(p.name as string) } as Result<K>;
    case 'models.cancel':
      return { status: await m.cancel(p.name as string) } as Result<K>;
    case 'models.remove':
      return (await m.remove(p.name as string, { purgeShared: p.purgeShared === true })) as Result<K>;
    case 'models.removePlan':
      return (await m.removalPlan(p.name as string)) as Result<K>;
    case 'models.import':
      return (await m.importLocal(p.varFile as string, p.vaeFile as string, { name: p.name as string | undefined, title: p.title as string | undefined })) as Result<K>;
    default:
      throw new Error(`not a models request: ${String(kind)}`);
  }
}

/** The manager's events as contract events. */
export function modelEvent(e: ManagerEvent): ModelEventMsg {
  return e.type === 'status'
    ? { type: 'models.status', name: e.name, status: e.status }
    : { type: 'models.import-progress', name: e.name, phase: e.phase, fraction: e.fraction };
}
