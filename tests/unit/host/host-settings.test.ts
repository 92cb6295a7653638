import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFolders, appRoot } from '../../../src/host/app-paths';
import { DEFAULT_SETTINGS, HostSettingsFile, sanitizeSettings } from '../../../src/host/host-settings';

describe('host settings file', () => {
  it('starts from the defaults and keeps what was written, without leftover temporary files', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'var-settings-'));
    const file = new HostSettingsFile(dir);
    expect(await file.read()).toEqual(DEFAULT_SETTINGS);
    await file.update({ provider: 'cpu' });
    await file.update({ threads: 4 });
    await file.update({ gpu: 1 });
    expect(await new HostSettingsFile(dir).read()).toEqual({ provider: 'cpu', threads: 4, gpu: 1 });
    expect(readdirSync(dir)).toEqual(['settings.json']);
  });

  it('replaces each invalid field by its default and survives a broken file', async () => {
    expect(sanitizeSettings({ provider: 'tpu', threads: 4 })).toEqual({ provider: 'auto', threads: 4, gpu: 0 });
    expect(sanitizeSettings({ provider: 'cuda', threads: 0 })).toEqual({ provider: 'cuda', threads: null, gpu: 0 });
    expect(sanitizeSettings({ threads: 2.5 }).threads).toBeNull();
    expect([sanitizeSettings({ gpu: 3 }).gpu, sanitizeSettings({ gpu: 4 }).gpu, sanitizeSettings({ gpu: -1 }).gpu, sanitizeSettings({ gpu: '1' }).gpu]).toEqual([3, 0, 0, 0]);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'var-settings-'));
    writeFileSync(path.join(dir, 'settings.json'), '{ not json');
    const file = new HostSettingsFile(dir);
    expect(await file.read()).toEqual(DEFAULT_SETTINGS);
    await file.update({ provider: 'dml' });
    expect(JSON.parse(readFileSync(path.join(dir, 'settings.json'), 'utf8'))).toEqual({ provider: 'dml', threads: null, gpu: 0 });
  });

  it('serialises concurrent updates so none is lost', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'var-settings-'));
    const file = new HostSettingsFile(dir);
    await Promise.all([file.update({ provider: 'coreml' }), file.update({ threads: 8 })]);
    expect(await file.read()).toEqual({ provider: 'coreml', threads: 8, gpu: 0 });
  });
});

describe('app folders', () => {
  it('finds models and resources in the source tree in development and beside the asar when packaged', () => {
    const dev = appFolders(appRoot({ packaged: false, resourcesPath: '/opt/electron/resources', appPath: '/src/var-studio' }));
    expect(dev.embeddedModelDir).toBe(path.join('/src/var-studio', 'models', 'var-fashion-32'));
    expect(dev.graphTemplatesDir).toBe(path.join('/src/var-studio', 'resources', 'graph-templates'));
    const packed = appFolders(appRoot({ packaged: true, resourcesPath: '/opt/VAR Studio/resources', appPath: '/opt/VAR Studio/resources/app.asar' }));
    expect(packed.embeddedModelDir).toBe(path.join('/opt/VAR Studio/resources', 'models', 'var-fashion-32'));
    expect(packed.classListFile).toBe(path.join('/opt/VAR Studio/resources', 'resources', 'imagenet-classes.json'));
    expect(packed.embeddedModelDir.includes('app.asar')).toBe(false);
  });
});
