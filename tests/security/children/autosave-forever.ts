// Child of the kill-during-autosave count: saves the canvas document over and over until killed.
import { gzipSync } from 'node:zlib';
import { DocumentStore } from '../../../src/host/documents';

const [dataDir] = process.argv.slice(2);
const store = new DocumentStore(dataDir);
const side = 256;
const image = gzipSync(new Uint8Array(side * side * 3).map((_, i) => (i * 7) & 255));
const mask = gzipSync(new Uint8Array(side * side).fill(255));
for (let rev = 1; ; rev++) {
  await store.save({
    meta: {
      format: 'var-studio-canvas', version: 1, docId: 'doc', name: 'kill', width: side, height: side, imageRev: rev, region: { x: 0, y: 0, size: side },
      chain: { format: 'var-studio-edit-chain', version: 2, source: { kind: 'file', fileName: 'a.png', width: side, height: side }, steps: [] }, savedAt: new Date().toISOString(),
    },
    image, mask,
  });
  if (rev === 1) process.stdout.write('ready\n');
}
