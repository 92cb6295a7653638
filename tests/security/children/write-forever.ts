// Child of the kill-mid-write test: rewrites the target with alternating full-length contents until killed.
import { writeFileSafely } from '../../../src/host/safe-write';

const [target, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
const contents = [Buffer.alloc(size, 0x41), Buffer.alloc(size, 0x42)];
for (let i = 0; ; i++) {
  await writeFileSafely(target, contents[i % 2]);
  if (i === 0) process.stdout.write('ready\n');
}
