// The canvas's document tabs: the pure rules (which tab follows a closed one, cycling, which inactive tabs
// give their memory back) and the session against the real host through an in-process Studio: two files
// make two tabs with their own documents and undo; an edit's result lands in the tab that started it,
// whichever is shown; closing a tab with unexported edits asks; the tabs come back in a new window; an
// unloaded tab reads its document back from the autosave.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { StudioApp } from '../../../src/renderer/lib/state/app.svelte';
import { CanvasSession } from '../../../src/renderer/lib/canvas-state/session.svelte';
import { closableTab, cycleIndex, indexAfterClose, tabsToUnload, type TabUse } from '../../../src/renderer/lib/canvas-state/tabs';
import { PHOTO, startedApp, until, type InProcessStudio } from './in-process-studio';

describe('tab rules', () => {
  const use = (key: number, bytes: number, over: Partial<TabUse> = {}): TabUse => ({ key, bytes, active: false, busy: false, lastShown: key, ...over });

  it('unloads the least recently shown idle inactive tabs until the total fits; never the active or a busy one', () => {
    const tabs = [use(1, 400), use(2, 300, { busy: true }), use(3, 200), use(4, 500, { active: true, lastShown: 0 })];
    expect(tabsToUnload(tabs, 2000)).toEqual([]);
    expect(tabsToUnload(tabs, 1100)).toEqual([1]); // 1400 − 400 = 1000 fits
    expect(tabsToUnload(tabs, 500)).toEqual([1, 3]); // the busy and the active tab stay, over budget or not
    expect(tabsToUnload([use(1, 0), use(2, 900, { active: true })], 10)).toEqual([]);
  });

  it('after a close the right neighbour is shown, else the left one; cycling wraps both ways', () => {
    expect(indexAfterClose(0, 3)).toBe(0);
    expect(indexAfterClose(2, 3)).toBe(1);
    expect(indexAfterClose(0, 1)).toBe(-1);
    expect(cycleIndex(2, 1, 3)).toBe(0);
    expect(cycleIndex(0, -1, 3)).toBe(2);
    expect(cycleIndex(0, 1, 0)).toBe(-1);
  });

  it('the spare tab (made room for when all are taken) is the oldest clean idle inactive one', () => {
    const t = (key: number, dirty: boolean, over: Partial<TabUse> = {}) => ({ ...use(key, 10, over), dirty });
    expect(closableTab([t(1, true), t(2, false, { busy: true }), t(3, false), t(4, false, { lastShown: 1 })])!.key).toBe(4);
    expect(closableTab([t(1, true), t(2, false, { active: true })])).toBeNull();
  });
});

describe('CanvasSession tabs', () => {
  let studio: InProcessStudio;
  let app: StudioApp;
  let canvas: CanvasSession;
  let small: Buffer;

  beforeEach(async () => {
    ({ studio, app } = await startedApp({ seed: 5, batch: 1 }));
    canvas = new CanvasSession(app);
    small = await sharp(PHOTO).resize(36, 28).png().toBuffer();
  });

  afterEach(async () => {
    canvas.dispose();
    app.dispose();
    await studio.close();
  });

  const photo = () => new File([readFileSync(PHOTO)], 'fashion.png', { type: 'image/png' });
  const other = () => new File([new Uint8Array(small)], 'other.png', { type: 'image/png' });

  it('two files make two tabs; each keeps its own document, mask and undo; Open never asks', async () => {
    expect(await canvas.openFile(photo())).toBe(true);
    const a = canvas.active!;
    canvas.fillMask();
    expect(await canvas.openFile(other())).toBe(true);
    expect(canvas.question).toBeNull();
    const b = canvas.active!;
    expect(canvas.tabs).toEqual([a, b]);
    expect(canvas.doc!.width).toBe(36);
    expect(canvas.doc!.mask.every((v) => v === 0)).toBe(true);
    expect(canvas.history.canUndo).toBe(false);
    expect([a.dirty, b.dirty]).toEqual([true, false]);
    canvas.cycleTab(1); // wraps to the first
    await until('tab a', () => canvas.active === a);
    expect(canvas.doc!.width).toBe(72);
    expect(canvas.doc!.mask.every((v) => v === 255)).toBe(true);
    canvas.undo();
    expect(canvas.doc!.mask.every((v) => v === 0)).toBe(true);
    expect(b.document.doc!.mask.every((v) => v === 0)).toBe(true);
    expect(app.canvasUnsaved).toBe(true);
  });

  it('an edit started in tab A lands in A while B is shown; B is untouched and can paint meanwhile', async () => {
    await canvas.openFile(photo());
    const a = canvas.active!;
    canvas.fillMask();
    const run = canvas.run();
    expect(a.job.running).toBe(true);
    await canvas.openFile(other()); // shown while A's edit runs
    const b = canvas.active!;
    expect(canvas.running).toBe(false);
    expect(canvas.canPaint).toBe(true);
    const bImage = b.document.doc!.image.slice();
    await run;
    await until('A\'s candidates', () => a.job.staged !== null);
    expect(b.job.staged).toBeNull();
    expect(canvas.staged).toBeNull();
    expect(Buffer.from(b.document.doc!.image).equals(Buffer.from(bImage))).toBe(true);
    expect(app.toasts.items.some((t) => t.title.includes('fashion.png'))).toBe(true);
    await canvas.activate(a);
    expect(canvas.staged!.candidates).toHaveLength(1);
    expect(canvas.notice).toMatch(/1 candidate wait/);
    canvas.accept();
    expect(a.document.doc!.steps).toHaveLength(1);
    expect(b.document.doc!.steps).toHaveLength(0);
  });

  it('closing a tab with unexported edits asks Export / Discard / Cancel; a clean tab closes at once', async () => {
    await canvas.openFile(photo());
    const a = canvas.active!;
    canvas.fillMask();
    await canvas.openFile(other());
    const b = canvas.active!;
    // Closing A (not shown) shows it and asks.
    let closing = canvas.closeTab(a);
    await until('question', () => canvas.question !== null);
    expect(canvas.active).toBe(a);
    expect(canvas.question!.answers.map((x) => x.id)).toEqual(['export', 'discard', 'cancel']);
    canvas.question!.resolve('cancel');
    expect(await closing).toBe(false);
    expect(canvas.tabs).toHaveLength(2);
    // Export: the file is written, then the tab closes and its autosave is gone.
    await a.autosave.saveNow();
    const aId = a.docId;
    expect((await studio.call('document.restore', { docId: aId })).document).not.toBeNull();
    closing = canvas.closeTab(a);
    await until('question', () => canvas.question !== null);
    canvas.question!.resolve('export');
    expect(await closing).toBe(true);
    expect(studio.exported.map((f) => f.fileName)).toEqual(['var-edit-fashion.png']);
    expect(canvas.tabs).toEqual([b]);
    expect(canvas.active).toBe(b);
    expect((await studio.call('document.restore', { docId: aId })).document).toBeNull();
    // Discard.
    canvas.fillMask();
    closing = canvas.closeTab(b);
    await until('question', () => canvas.question !== null);
    canvas.question!.resolve('discard');
    expect(await closing).toBe(true);
    expect(canvas.tabs).toEqual([]);
    expect(canvas.doc).toBeNull();
    expect(app.canvasUnsaved).toBe(false);
    // Clean: no question.
    await canvas.openFile(other());
    expect(await canvas.close()).toBe(true);
    expect(canvas.question).toBeNull();
  });

  it('the tabs and the active one come back in a new window; the others are read back only when shown', async () => {
    await canvas.openFile(photo());
    canvas.fillMask();
    await canvas.openFile(other());
    const b = canvas.active!;
    await canvas.cycleTab(-1);
    await until('tab a', () => canvas.active !== b);
    await canvas.saveNow();
    await b.autosave.saveNow();
    await canvas.persistTabs();
    const names = canvas.tabs.map((t) => t.name);
    const again = new CanvasSession(app);
    await again.restoreTabs();
    expect(again.tabs.map((t) => t.name)).toEqual(names);
    expect(again.active!.name).toBe('fashion.png');
    expect(again.doc!.mask.every((v) => v === 255)).toBe(true);
    expect(again.tabs.map((t) => [t.loaded, t.dirty])).toEqual([[true, true], [false, false]]);
    again.cycleTab(1);
    await until('tab b loaded', () => again.active === again.tabs[1] && again.tabs[1].loaded);
    expect(again.doc!.width).toBe(36);
    again.dispose();
  });

  it('over the memory budget, inactive idle tabs are unloaded to their autosave and read back when shown', async () => {
    canvas.memoryBudget = 72 * 56 * 4 + 36 * 28 * 4 + 100; // room for about one of each
    await canvas.openFile(photo());
    const a = canvas.active!;
    canvas.fillMask();
    await a.autosave.saveNow();
    await canvas.openFile(other());
    await canvas.openFile(new File([new Uint8Array(small)], 'third.png', { type: 'image/png' }));
    await until('a unloaded', () => !a.loaded);
    expect(a.dirty).toBe(true); // the strip still shows its dot
    expect(a.bytes).toBe(0);
    await canvas.activate(a);
    expect(canvas.active).toBe(a);
    expect(canvas.doc!.mask.every((v) => v === 255)).toBe(true);
    expect(canvas.notice).toMatch(/read back from its autosave/);
  });
});
