// STAND-IN for what Electron gives a utility process: `process.parentPort`, whose messages arrive as
// { data, ports }. Runs in a plain Node child forked by the stand-in's utilityProcess.fork, then imports
// the real module script (argv[2]) as Electron would.
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';

const [script] = process.argv.splice(2, 1);

class ParentPort extends EventEmitter {
  postMessage(message) {
    process.send(message);
  }
  start() {}
}
const parentPort = new ParentPort();
// as in Electron, messages wait in a queue until the script listens for them
const queued = [];
let listening = false;
process.on('message', (data) => (listening ? parentPort.emit('message', { data, ports: [] }) : queued.push(data)));
parentPort.on('newListener', (event) => {
  if (event !== 'message' || listening) return;
  listening = true;
  queueMicrotask(() => {
    for (const data of queued.splice(0)) parentPort.emit('message', { data, ports: [] });
  });
});
// a utility process ends with the process that forked it
process.on('disconnect', () => process.exit(0));
Object.defineProperty(process, 'parentPort', { value: parentPort, enumerable: true });
await import(pathToFileURL(script).href);
