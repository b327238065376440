import { expect } from 'chai';
import { costOf, costReport, groupedSquares, groupSizes, macsOf, paramsOf, presetArch, type ArchSpec, type AttnBlock } from '../src/index.js';

const tiny = (): ArchSpec => ({
  version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 32, pos: 'learned', readout: 'cls',
  blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 48, mlp: 64 }],
});

describe('cost model', () => {
  it('counts DeiT-Ti as 1,253,683,200 MACs', () => {
    expect(macsOf(presetArch('deit-tiny'), 'macs')).to.equal(1_253_683_200);
  });
  it('counts DeiT-Ti as 1,284,003,840 MACs in the ViTAS convention', () => {
    expect(macsOf(presetArch('deit-tiny'), 'vitas')).to.equal(1_284_003_840);
  });
  it('counts DeiT-S as 4,648,906,752 MACs in the ViTAS convention', () => {
    expect(macsOf(presetArch('deit-small'), 'vitas')).to.equal(4_648_906_752);
  });
  it('counts DeiT-Ti as 5,717,416 parameters in both conventions', () => {
    expect(paramsOf(presetArch('deit-tiny'))).to.equal(5_717_416);
    expect(costOf(presetArch('deit-tiny'), 'vitas').params).to.equal(5_717_416);
  });
  it('counts ViTAS-C at 1.3G in the ViTAS convention', () => {
    expect(macsOf(presetArch('vitas-c'), 'vitas')).to.equal(1_303_042_496);
  });
  it('sums its per-layer rows to the totals', () => {
    for (const conv of ['macs', 'vitas'] as const) {
      const r = costReport(presetArch('vitas-c'), conv);
      expect(r.layers.reduce((a, l) => a + l.macs, 0)).to.equal(r.total.macs);
      expect(r.layers.reduce((a, l) => a + l.params, 0)).to.equal(r.total.params);
      expect(r.total).to.deep.equal(costOf(presetArch('vitas-c'), conv));
    }
  });
  it('follows the per-block formula N·E·Q + 2·N²·(Q/3) + N·(Q/3)·E + 2·N·E·H', () => {
    const s = tiny();
    const N = 17, E = 32, Q = 48, H = 64;
    const block = N * E * Q + 2 * N * N * (Q / 3) + N * (Q / 3) * E + 2 * N * E * H;
    expect(macsOf(s)).to.equal(16 * 49 * 1 * 32 + block + 32 * 10);
  });
  it('skips identity blocks', () => {
    const s = tiny();
    const base = macsOf(s);
    s.blocks.push({ op: 'identity' });
    expect(macsOf(s)).to.equal(base);
  });

  describe('sliced group attention', () => {
    it('splits P tokens into G groups, the first P mod G one larger', () => {
      expect(groupSizes(49, 4)).to.deep.equal([13, 12, 12, 12]);
      expect(groupSizes(16, 4)).to.deep.equal([4, 4, 4, 4]);
    });
    it('puts the class token in the first group', () => {
      expect(groupedSquares(49, 4, 1)).to.equal(14 * 14 + 3 * 12 * 12);
      expect(groupedSquares(49, 4, 0)).to.equal(13 * 13 + 3 * 12 * 12);
      for (let p = 1; p < 60; p++)
        for (let g = 1; g <= p && g <= 8; g++) {
          const sizes = groupSizes(p, g);
          sizes[0]! += 1;
          expect(groupedSquares(p, g, 1)).to.equal(sizes.reduce((a, n) => a + n * n, 0));
        }
    });
    it('replaces N² in QKᵀ and AV by Σ n_g²', () => {
      const s = tiny();
      const plain = macsOf(s);
      (s.blocks[0] as AttnBlock).groups = [4];
      const inner = 16;
      // P = 16 patches: groups 4,4,4,4 with the class token in the first → 25 + 3·16
      expect(plain - macsOf(s)).to.equal(2 * inner * (17 * 17 - (25 + 48)));
    });
    it('with G = 1 costs the same as plain attention', () => {
      const s = tiny();
      const plain = macsOf(s);
      (s.blocks[0] as AttnBlock).groups = [1];
      expect(macsOf(s)).to.equal(plain);
    });
  });

  describe('recursion', () => {
    it('runs the block r times, each pass followed by its own LayerNorm + ratio-1 MLP (SReT: B → NLL₁ → B → NLL₂ …)', () => {
      const s = tiny();
      const one = costOf(s);
      const blockMacs = one.macs - costOf({ ...s, blocks: [] }).macs;
      Object.assign(s.blocks[0]!, { recursion: 3, groups: [1, 1, 1] });
      const three = costOf(s);
      const N = 17, E = 32;
      expect(three.macs - one.macs).to.equal(2 * blockMacs + 3 * (2 * N * E * E));
      // the shared weights are not counted twice; each of the 3 NLLs adds LN + two E×E linears + α, β; the block's residuals get α₁, β₁, α₂, β₂
      expect(three.params - one.params).to.equal(3 * (2 * E + 2 * (E * E + E) + 2) + 4);
    });
    it('may use another G on the recursive pass', () => {
      const s = tiny();
      Object.assign(s.blocks[0]!, { recursion: 2, groups: [1, 4] });
      const mixing = costReport(s).layers.filter((l) => l.layer.includes('mixing')).map((l) => l.macs);
      expect(mixing).to.deep.equal([2 * 16 * 17 * 17, 2 * 16 * (25 + 48)]);
    });
  });

  describe('operators', () => {
    const withOp = (b: Partial<AttnBlock>): ArchSpec => {
      const s = tiny();
      s.blocks = [{ ...(s.blocks[0] as AttnBlock), ...b }];
      return s;
    };
    it('gives performer and linformer cost linear in tokens', () => {
      const N = 17, I = 16, m = 8;
      const base = macsOf(tiny()) - 2 * I * N * N;
      expect(macsOf(withOp({ attention: 'performer', features: m }))).to.equal(base + 4 * N * m * I + N * m * 2);
      expect(macsOf(withOp({ attention: 'linformer', features: m }))).to.equal(base + 4 * N * m * I);
    });
    it('gives xnorm 2·N·(Q/3)·d_h', () => {
      const base = macsOf(tiny()) - 2 * 16 * 17 * 17;
      expect(macsOf(withOp({ attention: 'xnorm' }))).to.equal(base + 2 * 17 * 16 * 8);
    });
    it('gives fnet no projections and the published FFT cost N·E·(⌈log₂N⌉ + ⌈log₂E⌉)', () => {
      const s = withOp({ attention: 'fnet', heads: 1, qkv: 0 });
      const row = costReport(s).layers.find((l) => l.layer.endsWith('fnet.mixing'))!;
      expect(row.macs).to.equal(17 * 32 * (5 + 5));
      expect(costReport(s).layers.some((l) => l.layer.includes('qkv'))).to.equal(false);
    });
    it('prices every operator above zero', () => {
      for (const b of [
        { attention: 'nystrom', features: 4 },
        { attention: 'mixer', heads: 1, qkv: 0, tokenMlp: 32 },
        { lpi: true },
      ] as Partial<AttnBlock>[]) {
        expect(macsOf(withOp(b))).to.be.greaterThan(macsOf({ ...tiny(), blocks: [] }));
      }
    });
  });

  it('makes the class token and the head per-token the only differences between conventions', () => {
    const s = tiny();
    s.readout = 'mean';
    const patches = 16;
    expect(macsOf(s, 'vitas') - macsOf(s, 'macs')).to.equal((patches - 1) * 32 * 10);
  });
});
