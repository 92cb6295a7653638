// The generation settings embedded in exported images (PNG tEXt, XMP for JPEG/WebP) as readable JSON.
// Token maps of a "vary from a scale" prefix are written as plain integer lists so a person can read them.
import { nestLegacySampling } from './blocks';
import { imageSettingsSchema, type GraphPrecisions, type ImageSettings, type PrecisionName } from './contract';
import { ContractError } from './schema';

/** Text-chunk keyword / XMP element under which the JSON is stored. */
export const SETTINGS_KEY = 'var-studio';

export function settingsToJson(s: ImageSettings): string {
  const plain = { ...s, prefix: s.prefix ? { fromScale: s.prefix.fromScale, tokens: s.prefix.tokens.map((t) => Array.from(t)) } : undefined };
  return JSON.stringify(plain);
}

export function settingsFromJson(text: string): ImageSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ContractError('settings', 'JSON text', text);
  }
  raw = upgradeSettings(raw);
  if (typeof raw === 'object' && raw !== null) {
    const rec = raw as Record<string, unknown>;
    const prefix = rec.prefix as { tokens?: unknown } | undefined;
    if (prefix && typeof prefix === 'object' && Array.isArray(prefix.tokens)) {
      prefix.tokens = prefix.tokens.map((t, i) => {
        if (!Array.isArray(t) || !t.every((x) => Number.isInteger(x))) throw new ContractError(`settings.prefix.tokens[${i}]`, 'a list of integers', t);
        return Int32Array.from(t as number[]);
      });
    }
  }
  return imageSettingsSchema.parse(raw, 'settings');
}

/** A version 1 record (sampling flat at the top level) as version 2; anything else is returned as it is. */
export function upgradeSettings(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || (raw as { version?: unknown }).version !== 1) return raw;
  return { ...(nestLegacySampling(raw) as object), version: 2 };
}

/** A short human line, e.g. for PNG "Description" and the history panel. */
export function describeSettings(s: ImageSettings): string {
  const cls = s.classIndex === null ? `random class (${s.className})` : s.className;
  const vary = s.prefix ? `, varied from scale ${s.prefix.fromScale}` : '';
  const { cfg, topK, topP, moreSmooth } = s.sampling;
  return `${cls}; seed ${s.seed}; cfg ${cfg}; top-k ${topK}; top-p ${topP}${moreSmooth ? '; more smooth' : ''}${vary}; model ${s.model.name}`;
}

type GraphKey = keyof GraphPrecisions;
const GRAPH_KEYS: readonly GraphKey[] = ['transformer', 'fhatStep', 'encoder', 'decoder', 'preview'];

/** The precisions as a person reads them: "dq8" when the other graphs run fp32, else e.g. "dq8 · decoder int8". */
export function describePrecisions(p: GraphPrecisions | undefined): string {
  const t = p?.transformer ?? 'fp32';
  const others = GRAPH_KEYS.filter((g) => g !== 'transformer' && (p?.[g] ?? 'fp32') !== 'fp32').map((g) => `${g} ${p?.[g]}`);
  return [t, ...others].join(' · ');
}

export interface PrecisionDifference { graph: GraphKey; recorded: PrecisionName; running: PrecisionName }

/**
 * The graphs whose precision differs between a settings record and the loaded engine. A graph missing on
 * either side ran fp32 (records written before precision variants carry none), and the preview graph is
 * skipped: it only draws the in-progress thumbnails, never the final pixels.
 */
export function precisionDifferences(recorded: GraphPrecisions | undefined, running: GraphPrecisions | undefined): PrecisionDifference[] {
  return GRAPH_KEYS.filter((g) => g !== 'preview')
    .map((g) => ({ graph: g, recorded: recorded?.[g] ?? 'fp32', running: running?.[g] ?? 'fp32' }))
    .filter((d) => d.recorded !== d.running);
}

/** One line for a record regenerated at other precisions, or null when they agree. */
export function precisionMismatchNote(recorded: GraphPrecisions | undefined, running: GraphPrecisions | undefined): string | null {
  if (precisionDifferences(recorded, running).length === 0) return null;
  return `Made with ${describePrecisions(recorded)}; the model runs ${describePrecisions(running)} here, so the image will differ.`;
}
