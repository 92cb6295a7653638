// `npm run serve`: VAR Studio in a browser. Hosts the engine in this process, serves the built renderer on
// 127.0.0.1 (never another interface) and prints the URL with its per-launch access token.
//   --port N        port to listen on (0 = any free port; default 0)
//   --token-file F  read the access token from F if it exists, else write the new one there (mode 0600)
//   --model DIR     model bundle to offer as the embedded model (default: models/var-fashion-32)
//   --models-dir D  the user's models folder (default: ~/.var-studio/models)
//   --provider P    auto | cuda | dml | coreml | webgpu | cpu (default auto)
//   --threads N     CPU threads for onnxruntime
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync, promises as fsp } from 'node:fs';
import { ModelCatalog, defaultModelDir, defaultUserModelsDir } from '../host/models';
import { PROVIDER_NAMES, type ProviderNameMsg } from '../shared/contract';
import { StudioHost } from '../host/service';
import { defaultDataDir } from '../host/documents';
import { lockDataFolder } from '../host/data-lock';
import { MAX_GPU_INDEX } from '../host/host-settings';
import { startStudioServer } from './server';
import { TOKEN_PATTERN, newToken } from './auth';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServeArgs { port: number; model: string | null; modelsDir: string; provider: ProviderNameMsg | 'auto'; threads: number | undefined; gpu: number; host: string; tokenFile: string | null }

export function parseServeArgs(argv: string[]): ServeArgs {
  const out: ServeArgs = { port: 0, model: null, modelsDir: defaultUserModelsDir(), provider: 'auto', threads: undefined, gpu: 0, host: '127.0.0.1', tokenFile: null };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error('--port must be an integer 0..65535 (0 = a free port)');
        out.port = n;
        break;
      }
      case '--model': out.model = path.resolve(value()); break;
      case '--models-dir': out.modelsDir = path.resolve(value()); break;
      case '--token-file': out.tokenFile = path.resolve(value()); break;
      case '--provider': {
        const p = value();
        if (p !== 'auto' && !(PROVIDER_NAMES as readonly string[]).includes(p)) throw new Error(`--provider must be auto, ${PROVIDER_NAMES.join(', ')}`);
        out.provider = p as ServeArgs['provider'];
        break;
      }
      case '--threads': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error('--threads must be an integer 1..256');
        out.threads = n;
        break;
      }
      case '--gpu': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 0 || n > MAX_GPU_INDEX) throw new Error(`--gpu must be an integer 0..${MAX_GPU_INDEX} (the CUDA or DirectML device id; 0 = the first GPU)`);
        out.gpu = n;
        break;
      }
      case '--host': {
        const h = value();
        if (h !== '127.0.0.1' && h !== 'localhost') throw new Error('Browser mode listens on 127.0.0.1 only. To use it from another machine, forward the port over SSH: ssh -L 8080:127.0.0.1:8080 gpu-box');
        break;
      }
      case '--help':
        console.log(`npm run serve -- [--port N] [--token-file FILE] [--model DIR] [--models-dir DIR] [--provider ${['auto', ...PROVIDER_NAMES].join('|')}] [--gpu N] [--threads N]`);
        process.exit(0);
        break;
      default:
        throw new Error(`Unknown option ${flag}. Try --help.`);
    }
  }
  return out;
}

/**
 * The token of `--token-file`: an existing file is read (it must be private to its owner and hold one
 * token); a missing one is created with mode 0600 holding a fresh token, for scripts to read.
 */
export async function tokenFromFile(file: string): Promise<string> {
  let handle: import('node:fs/promises').FileHandle;
  try {
    handle = await fsp.open(file, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`Cannot create the token file ${file}: ${(e as Error).message}`);
    const st = await fsp.stat(file);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0)
      throw new Error(`The token file ${file} can be read by other users (mode ${(st.mode & 0o777).toString(8)}). Run "chmod 600 ${file}" or delete it to get a new token.`);
    const text = (await fsp.readFile(file, 'utf8')).trim();
    if (!TOKEN_PATTERN.test(text)) throw new Error(`The token file ${file} must hold one token of 32..256 characters A-Z a-z 0-9 _ -. Delete it to get a new token.`);
    return text;
  }
  const token = newToken();
  try {
    await handle.writeFile(`${token}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return token;
}

async function main(): Promise<void> {
  let args: ServeArgs;
  try {
    args = parseServeArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`var-studio serve: ${(e as Error).message}`);
    process.exit(2);
  }
  const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  // One server per data folder: two would autosave over each other's canvas.
  const dataDir = defaultDataDir();
  const lock = await lockDataFolder(dataDir);
  const catalog = new ModelCatalog(args.model ?? defaultModelDir(), args.modelsDir);
  const host = new StudioHost({
    dataDir,
    version, host: 'browser', catalog, provider: args.provider, threads: args.threads, deviceId: args.gpu,
    // The engine and image codecs run in a worker thread so a job never stalls other requests; VAR_STUDIO_ENGINE_IN_WORKER=0 keeps them in process.
    engineInWorker: process.env.VAR_STUDIO_ENGINE_IN_WORKER !== '0',
    // The server never writes files: the bytes go back to the browser, which downloads them.
    deliverExport: async (file) => ({ kind: 'download', ...file }),
  });
  const token = args.tokenFile ? await tokenFromFile(args.tokenFile) : undefined;
  const server = await startStudioServer({
    port: args.port, rendererDir: path.join(repoRoot, 'out', 'renderer'), host, token,
    log: (line) => console.error(`var-studio serve: ${line}`),
  });
  console.log(`VAR Studio is running at ${server.url}`);
  console.log('(listening on 127.0.0.1 only, for holders of the token in this URL; press Ctrl+C to stop)');
  const stop = async () => {
    await server.close();
    await host.dispose();
    await lock.release();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    const hint = typeof (e as { hint?: unknown }).hint === 'string' ? ` ${(e as { hint: string }).hint}` : '';
    console.error(`var-studio serve: ${(e as Error).message}${hint}`);
    process.exit(1);
  });
}
