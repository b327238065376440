import { expect } from 'chai';
import { createRequire } from 'node:module';
import { selectBackend, initBackend, parseBackendName, VitasError, type BackendLoader } from '../src/index.js';
import { tf } from '../src/backend/index.js';

const missing = (pkg: string): BackendLoader => async () => {
  throw Object.assign(new Error(`Cannot find package '${pkg}'`), { code: 'ERR_MODULE_NOT_FOUND' });
};

describe('backend selection', () => {
  it('chooses wasm when the native bindings are absent', async () => {
    const r = await selectBackend({ loaders: { 'node-gpu': missing('@tensorflow/tfjs-node-gpu'), node: missing('@tensorflow/tfjs-node') } });
    expect(r.name).to.equal('wasm');
    expect(tf.getBackend()).to.equal('wasm');
    expect(r.skipped.map((s) => s.name)).to.deep.equal(['node-gpu', 'node']);
  });
  it('falls back to cpu when wasm fails too, saying why each was skipped', async () => {
    const broken: BackendLoader = async () => {
      throw new Error('setBackend returned false');
    };
    const r = await selectBackend({ loaders: { 'node-gpu': missing('a'), node: missing('b'), wasm: broken } });
    expect(r.name).to.equal('cpu');
    expect(r.skipped[2]).to.deep.equal({ name: 'wasm', reason: 'setBackend returned false' });
  });
  it('uses wasm by default on a machine without tfjs-node', async function () {
    const require = createRequire(import.meta.url);
    let native = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      native = false; // absent, as on CI
    }
    if (native) this.skip(); // a machine with the native binding chooses it instead (skip() throws: outside the try)
    const info = await initBackend();
    expect(info.name).to.equal('wasm');
    expect(info.simd).to.be.a('boolean');
    expect(info.skipped.map((s) => s.reason).join()).to.include('not installed');
  });
  it('fails loudly when a forced backend cannot load', async () => {
    let err: unknown;
    try {
      await selectBackend({ force: 'node', loaders: { node: missing('@tensorflow/tfjs-node') } });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(VitasError);
    expect((err as Error).message).to.match(/^--backend node: cannot load/);
    await selectBackend({ force: 'wasm' });
  });
  it('parses backend names with aliases', () => {
    expect(parseBackendName('WASM')).to.equal('wasm');
    expect(parseBackendName('tensorflow')).to.equal('node');
    expect(() => parseBackendName('webgl')).to.throw(VitasError, '--backend: "webgl" is not a backend; allowed: node-gpu, node, wasm, cpu');
  });
});
