// Review finding 8: a client-controlled key cannot carry terminal escapes or line breaks into an error.
import { describe, expect, it } from 'vitest';
import { int, obj } from '../../src/shared/schema';
import { decodeWire, parseWireRequest } from '../../src/shared/wire';

const CONTROL = /[\u0000-\u001f\u007f]/;
const evil = '\u001b]0;pwned\u0007\u001b[2J\nFAKE LOG LINE';

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('finding 8: keys in error paths are quoted', () => {
  it('an unknown key in params is named JSON-quoted, with no raw control character', () => {
    const message = messageOf(() => obj({ a: int(0, 1) }).parse({ a: 1, [evil]: 2 }, 'params'));
    expect(message).not.toMatch(CONTROL);
    expect(message).toContain(JSON.stringify(evil).slice(0, 20));
  });

  it('the same through the wire envelope and the reviver', () => {
    expect(messageOf(() => parseWireRequest({ t: 'req', id: 1, kind: 'app.info', params: {}, [evil]: 1 }))).not.toMatch(CONTROL);
    expect(messageOf(() => decodeWire(JSON.stringify({ a: { ['x\u001b[31m\n']: { $u8: '@@@@' } } })))).not.toMatch(CONTROL);
  });
});
