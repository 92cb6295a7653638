// Review finding 7: the engine keeps its own copy of the contract's sampling bounds (it imports nothing of
// the app); this checks the two agree at both ends, so neither side can accept what the other refuses.
import { describe, expect, it } from 'vitest';
import { SAMPLING_BOUNDS } from '../../src/engine/manifest';
import { samplingSchema } from '../../src/shared/blocks';

describe("finding 7: the engine's sampling bounds are the contract's", () => {
  it('every bound is accepted by the contract, and the next value past it refused', () => {
    const base = { cfg: 1, topK: 0, topP: 1, moreSmooth: false };
    const accepts = (patch: object) => {
      try {
        samplingSchema.parse({ ...base, ...patch });
        return true;
      } catch {
        return false;
      }
    };
    for (const [key, b] of Object.entries(SAMPLING_BOUNDS)) {
      expect(accepts({ [key]: b.min }), `${key} = min`).toBe(true);
      expect(accepts({ [key]: b.max }), `${key} = max`).toBe(true);
      expect(accepts({ [key]: b.min - 1e-9 }), `${key} below`).toBe(false);
      expect(accepts({ [key]: b.max + (key === 'topK' ? 1 : 1e-9) }), `${key} above`).toBe(false);
    }
  });
});
