// The generation settings the user edits (sampling panel, class picker, seed), with snapshots for undo.
import type { Prefix, Sampling } from '../../../shared/contract';
import { randomSeed } from '../image';

export interface SettingsSnapshot {
  classIndex: number | null;
  seed: number;
  seedLocked: boolean;
  batch: number;
  cfg: number;
  topK: number;
  topP: number;
  moreSmooth: boolean;
  /** Tokens kept from an opened file that was itself "varied from a scale". */
  prefix: Prefix | null;
}

export const SAMPLING_HELP = {
  cfg: 'Classifier-free guidance: how strongly the image follows the class. It ramps up from 0 at the first scale to this value at the last. Higher = more typical, less varied.',
  topK: 'Sample only among the k most likely tokens at each position. 0 = no limit. Smaller = safer, less varied.',
  topP: 'Nucleus sampling: keep the most likely tokens whose probabilities add up to p. 1 = no limit.',
  seed: 'The same seed and settings give the same image on any machine. Locked: reused for every run; unlocked: a new random seed per run. Image b of a batch uses seed + b.',
  batch: 'How many images one run makes (each with its own seed).',
  moreSmooth: 'Mixes codebook entries softly (Gumbel) instead of picking one: smoother, less noisy textures.',
} as const;

export class GenerationSettings {
  classIndex = $state<number | null>(null);
  seed = $state(randomSeed());
  seedLocked = $state(false);
  batch = $state(1);
  cfg = $state(1.5);
  topK = $state(0);
  topP = $state(1);
  moreSmooth = $state(false);
  prefix = $state<Prefix | null>(null);

  /** The sampling settings as the contract's one object. */
  get sampling(): Sampling {
    return { cfg: this.cfg, topK: this.topK, topP: this.topP, moreSmooth: this.moreSmooth };
  }

  snapshot(): SettingsSnapshot {
    return {
      classIndex: this.classIndex, seed: this.seed, seedLocked: this.seedLocked, batch: this.batch,
      cfg: this.cfg, topK: this.topK, topP: this.topP, moreSmooth: this.moreSmooth, prefix: this.prefix,
    };
  }

  restore(s: SettingsSnapshot): void {
    this.classIndex = s.classIndex;
    this.seed = s.seed;
    this.seedLocked = s.seedLocked;
    this.batch = s.batch;
    this.cfg = s.cfg;
    this.topK = s.topK;
    this.topP = s.topP;
    this.moreSmooth = s.moreSmooth;
    this.prefix = s.prefix;
  }

  applySampling(d: Sampling): void {
    this.cfg = d.cfg;
    this.topK = d.topK;
    this.topP = d.topP;
    this.moreSmooth = d.moreSmooth;
  }
}
