// electron-builder afterPack hook: flips Electron's fuses in the packaged executable before it is signed,
// so the shipped binary cannot be turned into a plain Node runtime or debugged through env/CLI switches.
const path = require('node:path');

/** The fuse settings every installer ships with (tests/packaging reads them back from the built binary). */
const FUSES = {
  RunAsNode: false,
  EnableCookieEncryption: true,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
  // The page is served from the app's own protocol, never file://.
  GrantFileProtocolExtraPrivileges: false,
};

/** The Electron executable inside what electron-builder just laid out, per platform. */
function executablePath(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  const info = packager.appInfo;
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') return path.join(appOutDir, `${info.productFilename}.app`, 'Contents', 'MacOS', info.productFilename);
  if (electronPlatformName === 'win32') return path.join(appOutDir, `${info.productFilename}.exe`);
  return path.join(appOutDir, packager.executableName);
}

async function afterPack(context) {
  const { flipFuses, FuseV1Options, FuseVersion } = await import('@electron/fuses');
  const config = { version: FuseVersion.V1, resetAdHocDarwinSignature: context.electronPlatformName === 'darwin' && context.arch === 3 };
  for (const [name, on] of Object.entries(FUSES)) config[FuseV1Options[name]] = on;
  await flipFuses(executablePath(context), config);
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.FUSES = FUSES;
module.exports.executablePath = executablePath;
