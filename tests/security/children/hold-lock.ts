// Child of the lock test: holds the data-folder lock until killed.
import { lockDataFolder } from '../../../src/host/data-lock';

await lockDataFolder(process.argv[2]);
process.stdout.write('locked\n');
setInterval(() => undefined, 1000);
