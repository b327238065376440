import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKENDS, costOf, presetSpace, reachableRange, SPACES, type BackendName } from '../src/index.js';
import { ROOT } from './helpers.js';

const vitas = (...args: string[]): { code: number; out: string; err: string } => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
};

describe('vitas CLI', () => {
  it('prints DeiT-Ti as "macs": 1253683200 with --json', () => {
    const r = vitas('flops', '--preset', 'deit-tiny', '--json');
    expect(r.code).to.equal(0);
    expect(JSON.parse(r.out)).to.deep.equal({ macs: 1253683200, params: 5717416, convention: 'macs' });
  });
  it('counts a spec file in the ViTAS convention with a per-layer table', () => {
    const r = vitas('flops', join(ROOT, 'examples/deit-tiny.json'), '--convention', 'vitas', '--per-layer');
    expect(r.code).to.equal(0);
    expect(r.out).to.include('| blocks.11.mlp');
    expect(r.out).to.include('**1,284,003,840**');
  });
  it('answers a bad spec with one line naming the file and JSON path, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitas-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 32, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 3, qkv: 48, mlp: 64 }] }));
    const r = vitas('flops', file);
    expect(r.code).to.equal(2);
    expect(r.err.trim()).to.equal(`vitas: ${file}: blocks[0].heads: 3 does not divide qkv/3 = 16`);
    const missing = vitas('flops', join(dir, 'nope.json'));
    expect(missing.err.trim()).to.equal(`vitas: ${join(dir, 'nope.json')}: cannot read spec (no such file)`);
  });
  it('lists the preset spaces with their MACs ranges', () => {
    const r = vitas('spaces', '--json');
    expect(r.code, r.err).to.equal(0);
    const list = JSON.parse(r.out) as { name: string; minMacs: number; maxMacs: number }[];
    expect(list.map((s) => s.name)).to.deep.equal(Object.keys(SPACES));
    // each range is the space's reachable one: its smallest and largest subnet, counted by the cost model
    for (const s of list) {
      const range = reachableRange(presetSpace(s.name), 'macs');
      expect([s.minMacs, s.maxMacs], s.name).to.deep.equal([costOf(range.minSpec).macs, costOf(range.maxSpec).macs]);
      expect(s.minMacs, s.name).to.be.below(s.maxMacs);
    }
    expect(list.find((s) => s.name === 'autoformer-t')!.minMacs).to.be.below(1.3e9);
  });
  it('reports the backend and why others were skipped', () => {
    const r = vitas('info', '--json');
    expect(r.code, r.err).to.equal(0);
    const info = JSON.parse(r.out) as { name: BackendName; skipped: { name: string; reason: string }[] };
    // the fallback order: every backend before the one in use was tried and skipped, with a reason
    expect(info.skipped.map((s) => s.name)).to.deep.equal(BACKENDS.slice(0, BACKENDS.indexOf(info.name)));
    for (const s of info.skipped) expect(s.reason, s.name).to.match(/\S/);
    // the text form says the same, one line per skipped backend
    const text = vitas('info');
    expect(text.out).to.include(`backend: ${info.name} (`);
    expect(text.out.split('\n').filter((l) => l.startsWith('skipped '))).to.deep.equal(info.skipped.map((s) => `skipped ${s.name}: ${s.reason}`));
    // a forced backend is used without trying others
    const cpu = JSON.parse(vitas('info', '--backend', 'cpu', '--json').out) as { name: string; skipped: unknown[] };
    expect(cpu).to.include({ name: 'cpu' });
    expect(cpu.skipped).to.deep.equal([]);
  });
});
