import { expect } from 'chai';
import { presetArch, validateSpec, VitasError, specKey, canonicalSpec, describeSpec } from '../src/index.js';

const bad = (mutate: (s: Record<string, any>) => void): string => {
  const s = JSON.parse(JSON.stringify(presetArch('vitas-c')));
  mutate(s);
  try {
    validateSpec(s, 'arch.json');
  } catch (e) {
    expect(e).to.be.instanceOf(VitasError);
    const msg = (e as Error).message;
    expect(msg).to.not.include('\n');
    return msg;
  }
  throw new Error('expected the spec to be rejected');
};

describe('arch spec', () => {
  it('accepts every preset network', () => {
    for (const n of ['deit-tiny', 'deit-small', 'deit-base', 'vitas-c']) expect(() => validateSpec(presetArch(n))).to.not.throw();
  });
  it('names the path when heads do not divide qkv/3', () => {
    expect(bad((s) => (s.blocks[3].heads = 5))).to.equal('arch.json: blocks[3].heads: 5 does not divide qkv/3 = 144');
  });
  it('rejects unknown fields, naming them and the allowed ones', () => {
    const msg = bad((s) => (s.blocks[2].dropout = 0.1));
    expect(msg).to.match(/^arch\.json: blocks\[2\]\.dropout: unknown field; allowed fields: op, attention, heads/);
    expect(bad((s) => (s.extra = 1))).to.match(/^arch\.json: extra: unknown field/);
  });
  it('lists the allowed values of an enum', () => {
    expect(bad((s) => (s.stem = 'resnet'))).to.equal('arch.json: stem: "resnet" is not allowed; allowed: "linear", "conv"');
    expect(bad((s) => (s.blocks[0].attention = 'flash'))).to.match(/^arch\.json: blocks\[0\]\.attention: "flash" is not allowed; allowed: "softmax", "performer"/);
  });
  it('rejects an unknown block op', () => {
    expect(bad((s) => (s.blocks[1].op = 'conv'))).to.match(/^arch\.json: blocks\[1\]\.op: "conv" is not allowed/);
  });
  it('requires fields, naming the missing one', () => {
    expect(bad((s) => delete s.blocks[4].mlp)).to.equal('arch.json: blocks[4].mlp: is required');
    expect(bad((s) => delete s.embed)).to.equal('arch.json: embed: is required');
  });
  it('rejects a patch size that does not divide the input', () => {
    expect(bad((s) => (s.patch = 15))).to.equal('arch.json: patch: 15 does not divide the input 224×224');
  });
  it('needs one group count per recursion pass', () => {
    expect(bad((s) => Object.assign(s.blocks[0], { recursion: 2, groups: [1] }))).to.equal('arch.json: blocks[0].groups: has 1 entries; needs one per recursion pass (2)');
    expect(bad((s) => Object.assign(s.blocks[0], { groups: [197] }))).to.match(/groups\[0\]: 197 groups exceed the 196 patch tokens/);
  });
  it('needs operator parameters where the operator has them', () => {
    expect(bad((s) => (s.blocks[0].attention = 'performer'))).to.equal('arch.json: blocks[0].features: is required for attention "performer"');
    expect(bad((s) => Object.assign(s.blocks[0], { attention: 'fnet' }))).to.match(/blocks\[0\]\.qkv: 432 must be 0 for attention "fnet"/);
  });
  it('rejects wrong types and versions', () => {
    expect(bad((s) => (s.embed = '230'))).to.equal('arch.json: embed: "230" must be integer');
    expect(bad((s) => (s.version = 2))).to.equal('arch.json: version: 2 is not allowed; must be 1');
    expect(bad((s) => (s.blocks = [{ op: 'identity' }]))).to.equal('arch.json: blocks: needs at least one non-identity block');
  });
  it('gives equal networks equal keys whatever defaults are spelt out', () => {
    const a = presetArch('vitas-c');
    const b = canonicalSpec(a);
    expect(specKey(a)).to.equal(specKey(b));
    expect(b.blocks[0]).to.deep.include({ recursion: 1, groups: [1] });
  });

  it('describes a spec in one line: stem, patch, embed, then each block\'s mixer, heads, widths, LPI and recursion, an identity block as "id" in its place, a mixer block by its token and channel MLPs', () => {
    const spec = validateSpec({
      version: 1, input: [28, 28, 1], classes: 10, patch: 4, stem: 'conv', embed: 64, pos: 'learned', readout: 'cls',
      blocks: [
        { op: 'attn', attention: 'softmax', heads: 2, qkv: 192, mlp: 256, lpi: true, recursion: 2, groups: [1, 1] },
        { op: 'identity' },
        { op: 'attn', attention: 'mixer', heads: 1, qkv: 0, mlp: 64, tokenMlp: 32 },
      ],
    });
    expect(describeSpec(spec)).to.equal('conv stem p4 e64: softmax h2 q192 m256 +lpi ×2 · id · mixer t32 m64');
  });
});

