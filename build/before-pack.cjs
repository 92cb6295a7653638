// electron-builder beforePack hook: refuses targets the app cannot run on, before anything is copied.
const ARCH_NAMES = ['ia32', 'x64', 'armv7l', 'arm64', 'universal'];

function refusal(platform, arch) {
  if ((platform === 'darwin' || platform === 'mas') && arch !== 'arm64')
    return `VAR Studio cannot be built for macOS ${arch}: onnxruntime-node ships no Intel-mac (darwin x64) binary, so the engine could not load. Build for Apple silicon: npm run dist -- --mac --arm64.`;
  if (platform === 'win32' && arch !== 'x64') return `VAR Studio is built for Windows x64 only (asked for ${arch}).`;
  if (platform === 'linux' && arch !== 'x64') return `VAR Studio is built for Linux x64 only (asked for ${arch}).`;
  return null;
}

async function beforePack(context) {
  const reason = refusal(context.electronPlatformName, ARCH_NAMES[context.arch] ?? String(context.arch));
  if (reason) throw new Error(reason);
}

module.exports = beforePack;
module.exports.default = beforePack;
module.exports.refusal = refusal;
