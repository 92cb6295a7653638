// What the page remembers about its own layout between visits: the last workspace shown, whether the
// first-start hint to the Models page was dismissed, and the models it already pointed to their faster variant. Kept in localStorage: in the desktop app its app://
// origin is fixed and Electron keeps the storage in the user-data folder, so it survives an app restart;
// in browser mode it is per address (a server started on a new port begins afresh).

const KEY = 'var-studio.ui';

export interface UiPrefs {
  /** Registry id of the workspace shown last (null: never chosen, the app opens on the first one). */
  lastWorkspace: string | null;
  modelsHintDismissed: boolean;
  /** Models for which the page already said that a faster variant is there (said once per model). */
  variantHintModels: string[];
}

const DEFAULTS: UiPrefs = { lastWorkspace: null, modelsHintDismissed: false, variantHintModels: [] };
/** The newest ids kept in variantHintModels (an old id at worst gets the hint once more). */
export const MAX_VARIANT_HINT_MODELS = 100;

/** Keeps each valid field and the default for every other one, so an old or hand-edited entry never breaks start. */
export function sanitizeUiPrefs(raw: unknown): UiPrefs {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  return {
    lastWorkspace: typeof r.lastWorkspace === 'string' && r.lastWorkspace.length <= 64 ? r.lastWorkspace : DEFAULTS.lastWorkspace,
    modelsHintDismissed: r.modelsHintDismissed === true,
    variantHintModels: Array.isArray(r.variantHintModels)
      ? r.variantHintModels.filter((x): x is string => typeof x === 'string' && x.length <= 1024).slice(-MAX_VARIANT_HINT_MODELS)
      : [],
  };
}

/** The workspace to open on: the remembered one if it still exists, else the first (Generate). */
export function startWorkspace(prefs: UiPrefs, ids: readonly string[]): string {
  return prefs.lastWorkspace !== null && ids.includes(prefs.lastWorkspace) ? prefs.lastWorkspace : ids[0]!;
}

export class UiPrefsStore {
  private prefs: UiPrefs;

  constructor(private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null = globalThis.localStorage ?? null) {
    let raw: unknown = null;
    try {
      raw = JSON.parse(storage?.getItem(KEY) ?? 'null');
    } catch {
      raw = null;
    }
    this.prefs = sanitizeUiPrefs(raw);
  }

  get(): UiPrefs {
    return { ...this.prefs };
  }

  update(change: Partial<UiPrefs>): void {
    this.prefs = sanitizeUiPrefs({ ...this.prefs, ...change });
    try {
      this.storage?.setItem(KEY, JSON.stringify(this.prefs));
    } catch {
      // A full or blocked storage only costs remembering the layout.
    }
  }
}
