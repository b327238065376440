import { expect } from 'chai';
import {
  SPACES, Rng, sampleSpec, sampleGenome, mutate, crossover, encode, decode, contains, validateSpec, validateSpace,
  reachableRange, macsOf, specKey, presetArch, presetSpace, loadSpace, VitasError,
} from '../src/index.js';

describe('search spaces', () => {
  it('gives the same 1,000 specs for the same seed', () => {
    for (const name of ['fmnist', 'vitas-1g']) {
      const a = new Rng(42), b = new Rng(42);
      const sa = Array.from({ length: 1000 }, () => specKey(sampleSpec(SPACES[name]!, a)));
      const sb = Array.from({ length: 1000 }, () => specKey(sampleSpec(SPACES[name]!, b)));
      expect(sa).to.deep.equal(sb);
      expect(new Set(sa).size).to.be.greaterThan(990);
    }
  });
  it('gives other specs for another seed', () => {
    const a = new Rng(1), b = new Rng(2);
    expect(specKey(sampleSpec(SPACES.fmnist!, a))).to.not.equal(specKey(sampleSpec(SPACES.fmnist!, b)));
  });
  it('resumes an RNG exactly from its saved state', () => {
    const a = new Rng(7);
    for (let i = 0; i < 10; i++) a.next();
    const b = new Rng(0, a.state());
    expect(Array.from({ length: 5 }, () => a.next())).to.deep.equal(Array.from({ length: 5 }, () => b.next()));
  });

  for (const [name, space] of Object.entries(SPACES)) {
    it(`${name}: every sampled, mutated and crossed spec validates and lies inside the space and its cost range`, () => {
      const rng = new Rng(name);
      const range = reachableRange(space);
      const check = (s: ReturnType<typeof sampleSpec>): void => {
        validateSpec(s);
        expect(contains(space, s)).to.equal(true);
        const m = macsOf(s);
        expect(m).to.be.within(range.min, range.max);
      };
      const pop = Array.from({ length: 60 }, () => sampleSpec(space, rng));
      pop.forEach(check);
      for (let i = 0; i < 200; i++) {
        check(mutate(space, rng.pick(pop), rng));
        check(crossover(space, rng.pick(pop), rng.pick(pop), rng));
      }
    });
    it(`${name}: encode and decode are inverse`, () => {
      const rng = new Rng(3);
      for (let i = 0; i < 100; i++) {
        const g = sampleGenome(space, rng);
        expect(encode(space, decode(space, g))).to.deep.equal(g);
      }
    });
  }

  it('reaches its range ends with valid specs inside the space', () => {
    for (const space of Object.values(SPACES)) {
      const r = reachableRange(space);
      expect(macsOf(r.minSpec)).to.equal(r.min);
      expect(macsOf(r.maxSpec)).to.equal(r.max);
      expect(contains(space, r.minSpec) && contains(space, r.maxSpec)).to.equal(true);
    }
  });
  it('respects the identity probability', () => {
    const rng = new Rng(5);
    const space = SPACES['vitas-1g']!;
    const depth = (p: number): number => {
      let d = 0;
      for (let i = 0; i < 200; i++) d += sampleSpec(space, rng, { pId: p }).blocks.filter((b) => b.op !== 'identity').length;
      return d / 200;
    };
    expect(depth(0.1)).to.be.closeTo(14.4, 0.6);
    expect(depth(0.7)).to.be.closeTo(4.8, 0.6);
  });
  it('keeps AutoFormer depth at the tail with ratio-derived widths', () => {
    const space = presetSpace('autoformer-t');
    const rng = new Rng(9);
    for (let i = 0; i < 50; i++) {
      const s = sampleSpec(space, rng);
      expect(s.blocks.length).to.be.within(12, 14);
      for (const b of s.blocks) {
        if (b.op !== 'attn') throw new Error('no identity in tail spaces');
        expect(b.qkv).to.equal(3 * 64 * b.heads);
        expect([3.5 * s.embed, 4 * s.embed]).to.include(b.mlp);
      }
    }
  });
  it('says which field lies outside the space', () => {
    const s = presetArch('vitas-c');
    expect(() => encode(SPACES['vitas-1g']!, s, 'arch.json')).to.throw(VitasError, 'arch.json: blocks: 12 blocks; space "vitas-1g" has exactly 16');
    s.blocks.push(...Array.from({ length: 4 }, () => ({ op: 'identity' as const })));
    expect(contains(SPACES['vitas-1g']!, s)).to.equal(true);
    (s.blocks[0] as { mlp: number }).mlp = 700;
    expect(() => encode(SPACES['vitas-1g']!, s, 'arch.json')).to.throw(/^arch\.json: blocks\[0\]\.mlp: 700 is outside space "vitas-1g"; allowed: 144, 288/);
  });
  it('rejects a space whose head counts do not divide its qkv widths', () => {
    const s = JSON.parse(JSON.stringify(SPACES.fmnist));
    s.heads = [1, 2, 5];
    expect(() => validateSpace(s, 'my-space.json')).to.throw(VitasError, 'my-space.json: qkv[0]: heads 5 does not divide qkv/3 = 8');
    s.heads = [1];
    s.colour = 'red';
    expect(() => validateSpace(s, 'my-space.json')).to.throw(VitasError, /^my-space\.json: colour: unknown field/);
  });
  it('loads presets by name and rejects unknown ones', () => {
    expect(loadSpace('fmnist').name).to.equal('fmnist');
    expect(() => loadSpace('nope')).to.throw(VitasError, /--space: "nope" is neither a preset/);
  });
});
