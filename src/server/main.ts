// `npm run serve`: VAR Studio in a browser. Hosts the engine in this process, serves the built renderer on
// 127.0.0.1 (never another interface) and prints the URL.
//   --port N        port to listen on (0 = any free port; default 0)
//   --model DIR     model bundle to offer as the embedded model (default: models/var-fashion-32)
//   --models-dir D  the user's models folder (default: ~/.var-studio/models)
//   --provider P    auto | cuda | dml | coreml | webgpu | cpu (default auto)
//   --threads N     CPU threads for onnxruntime
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { ModelCatalog, defaultModelDir, defaultUserModelsDir } from '../host/models';
import { PROVIDER_NAMES, type ProviderNameMsg } from '../shared/contract';
import { StudioHost } from '../host/service';
import { startStudioServer } from './server';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServeArgs { port: number; model: string | null; modelsDir: string; provider: ProviderNameMsg | 'auto'; threads: number | undefined; host: string }

export function parseServeArgs(argv: string[]): ServeArgs {
  const out: ServeArgs = { port: 0, model: null, modelsDir: defaultUserModelsDir(), provider: 'auto', threads: undefined, host: '127.0.0.1' };
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
      case '--host': {
        const h = value();
        if (h !== '127.0.0.1' && h !== 'localhost') throw new Error('Browser mode listens on 127.0.0.1 only. To use it from another machine, forward the port over SSH: ssh -L 8080:127.0.0.1:8080 gpu-box');
        break;
      }
      case '--help':
        console.log(`npm run serve -- [--port N] [--model DIR] [--models-dir DIR] [--provider ${['auto', ...PROVIDER_NAMES].join('|')}] [--threads N]`);
        process.exit(0);
        break;
      default:
        throw new Error(`Unknown option ${flag}. Try --help.`);
    }
  }
  return out;
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
  const catalog = new ModelCatalog(args.model ?? defaultModelDir(), args.modelsDir);
  const host = new StudioHost({
    version, host: 'browser', catalog, provider: args.provider, threads: args.threads,
    // The server never writes files: the bytes go back to the browser, which downloads them.
    deliverExport: async (file) => ({ kind: 'download', ...file }),
  });
  const server = await startStudioServer({
    port: args.port, rendererDir: path.join(repoRoot, 'out', 'renderer'), host,
    log: (line) => console.error(`var-studio serve: ${line}`),
  });
  console.log(`VAR Studio is running at ${server.url}`);
  console.log('(listening on 127.0.0.1 only; press Ctrl+C to stop)');
  const stop = async () => {
    await server.close();
    await host.dispose();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`var-studio serve: ${(e as Error).message}`);
    process.exit(1);
  });
}
