/** Entry point used by bin/var-studio.mjs. */
import { main } from './main';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
