/**
 * The restricted pickle reader: plain values come back as Python wrote them; a pickle that imports anything a
 * state dict does not need is refused when the name is read, and nothing in it runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportError } from '../../../src/engine/import/checkpoint';
import { openCheckpoint } from '../../../src/engine/import/open';
import { loadPickle } from '../../../src/engine/import/pickle';
import { type TestCheckpoints, writeTestCheckpoints } from './fixtures';

let ck: TestCheckpoints;
beforeAll(() => {
  ck = writeTestCheckpoints('--payloads');
}, 120_000);
afterAll(() => ck?.cleanup());

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const bytes = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

function refusal(data: Uint8Array): ImportError {
  try {
    loadPickle(data, 'x.pth');
  } catch (e) {
    expect(e).toBeInstanceOf(ImportError);
    return e as ImportError;
  }
  throw new Error('expected the pickle to be refused');
}

describe('restricted pickle reader', () => {
  // pickle.dumps({'a': -5, 'b': 2**40, 'c': 1.5, 'd': [1, 2, 300, -70000], 'e': None, 'f': (True, False),
  //               'g': 'ü', 'h': -2**70}, protocol=P) for P = 2 and 4 (Python 3.11).
  const PROTO2 = '80027d71002858010000006171014afbffffff58010000006271028a060000000000015801000000637103473ff800000000000058010000006471045d7105284b014b024d2c014a90eefeff6558010000006571064e5801000000667107888986710858010000006771095802000000c3bc710a580100000068710b8a090000000000000000c0752e';
  const PROTO4 = '80049560000000000000007d94288c0161944afbffffff8c0162948a060000000000018c016394473ff80000000000008c0164945d94284b014b024d2c014a90eefeff658c0165944e8c016694888986948c0167948c02c3bc948c0168948a090000000000000000c0752e';
  const want = new Map<unknown, unknown>([['a', -5], ['b', 2 ** 40], ['c', 1.5], ['d', [1, 2, 300, -70000]], ['e', null],
    ['f', [true, false]], ['g', 'ü'], ['h', -(2n ** 70n)]]);

  it.each([['protocol 2', PROTO2], ['protocol 4', PROTO4]])('reads plain values (%s)', (_, data) => {
    expect(loadPickle(hex(data), 'x.pth')).toEqual(want);
  });

  it.each([
    ['builtins eval (protocol 4, STACK_GLOBAL)', '8004951d000000000000008c086275696c74696e73948c046576616c9493948c01319485945294 2e', 'builtins.eval'],
    ['__builtin__ eval (protocol 2, GLOBAL)', bytes('\x80\x02c__builtin__\neval\nq\x00X\x01\x00\x00\x001q\x01\x85q\x02Rq\x03.'), '__builtin__.eval'],
    ['subprocess Popen', bytes('\x80\x02csubprocess\nPopen\n)R.'), 'subprocess.Popen'],
    ['torch load', bytes('\x80\x02ctorch\nload\n)R.'), 'torch.load'],
    ['a torch._utils helper that is not a tensor rebuild', bytes('\x80\x02ctorch._utils\n_rebuild_qtensor\n)R.'), 'torch._utils._rebuild_qtensor'],
  ])('refuses a global: %s', (_, data, name) => {
    const e = refusal(typeof data === 'string' ? hex(data.replace(/ /g, '')) : data);
    expect(e.code).toBe('unsafe-pickle');
    expect(e.message).toContain(`(it imports ${name})`);
    expect(e.message.startsWith('x.pth: ')).toBe(true);
  });

  it('refuses calling a storage class and object-building opcodes', () => {
    expect(refusal(bytes('\x80\x02ctorch\nFloatStorage\n)R.')).code).toBe('unsafe-pickle');
    expect(refusal(bytes('\x80\x02ccollections\nOrderedDict\n)\x81.')).message).toMatch(/opcode 0x81, which a state dict does not use/);
    expect(refusal(bytes('\x80\x02(i__main__\nX\n.')).message).toMatch(/opcode 0x69/);
    expect(refusal(bytes('\x80\x02}q\x00X\x01\x00')).code).toBe('truncated');
  });

  it.each([
    ['payload_os.pth', 'os.system'],
    ['payload_posix.pth', 'posix.system'],
  ])('%s (would run `touch` when unpickled) is refused, and its command does not run', async (file, name) => {
    const marker = ck.path('PAYLOAD-RAN');
    let error: unknown;
    try {
      await openCheckpoint(ck.path(file));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ImportError);
    expect((error as ImportError).code).toBe('unsafe-pickle');
    expect((error as ImportError).message).toBe(`${file}: holds pickled Python code besides tensors (it imports ${name}); ` +
      'only tensors and plain containers are read from checkpoint files, and nothing in this one was run');
    expect(existsSync(marker)).toBe(false);
    // The payload is live: Python's own unpickler runs it (proving the check above could have failed); the
    // torch.save one is stopped at its tensor (importing torch would only cost time).
    const unpickle = [
      'import pickle, sys, zipfile',
      'class NoTorch(pickle.Unpickler):',
      '  def find_class(self, module, name):',
      '    if module.startswith("torch"): raise pickle.UnpicklingError("stop")',
      '    return super().find_class(module, name)',
      'try: NoTorch(zipfile.ZipFile(sys.argv[1]).open(sys.argv[2])).load()',
      'except pickle.UnpicklingError: pass',
    ].join('\n');
    execFileSync('/usr/bin/python3', ['-c', unpickle, ck.path(file), `${file.replace(/\.pth$/, '')}/data.pkl`], { stdio: 'ignore' });
    expect(existsSync(marker)).toBe(true);
    execFileSync('rm', ['-f', marker]);
  });
});
