// The engine workers of the Electron app run as utility processes, not as threads of this unsandboxed main
// process: a hostile image, bundle or checkpoint is parsed there, and a crash or out-of-memory kill ends only that child.
import { existsSync } from 'node:fs';
import { utilityProcess, type UtilityProcess } from 'electron';
import type { EngineChannel, OpenChannel, WorkerRole } from '../host/engine-worker/channel';
import { StudioError } from '../shared/errors';

const SERVICE_NAMES: Record<WorkerRole, string> = { engine: 'VAR Studio engine', 'image-codecs': 'VAR Studio image codecs', importer: 'VAR Studio importer' };

/** Environment variables that would change how the child's Node starts; the child needs none of them. */
const DROPPED_ENV = ['NODE_OPTIONS', 'ELECTRON_RUN_AS_NODE', 'NODE_PATH'];

/** The child's environment: this process's (the GPU provider needs PATH, LD_LIBRARY_PATH, CUDA_*) minus Node's start-up switches. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && !DROPPED_ENV.includes(e[0])));
}

/** Opens each engine worker as a utility process running `script` (out/main/engine-worker.js). */
export function utilityProcessWorkers(script: string): OpenChannel {
  return (role) => {
    if (!existsSync(script)) throw new StudioError('worker-missing', `The engine worker script ${script} is missing.`, 'Reinstall VAR Studio (or run "npm run build" in the project folder).');
    // no stdin, no inherited inspector flags, no unsigned-library exception: only the script and its environment
    const child = utilityProcess.fork(script, [], { serviceName: SERVICE_NAMES[role], stdio: ['ignore', 'inherit', 'inherit'], execArgv: [], env: childEnv() });
    return channelOf(child);
  };
}

function channelOf(child: UtilityProcess): EngineChannel {
  let exited: Promise<void> | null = null;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    // utility-process messages are structured clones: typed arrays are copied, nothing but ports is transferred
    post: (msg) => child.postMessage(msg),
    onMessage: (listener) => void child.on('message', listener),
    onExit: (listener) => void child.once('exit', (code: number) => listener(`exit code ${code}`)),
    kill() {
      exited ??= (child.kill(), gone);
      return exited;
    },
  };
}
