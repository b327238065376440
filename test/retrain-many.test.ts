import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPercent, meanStd } from '../src/index.js';
import { fixture, ROOT } from './helpers.js';

describe('summary statistics', () => {
  it('gives the mean and the sample standard deviation (n − 1)', () => {
    const s = meanStd([0.9, 0.92, 0.94]);
    expect(s.mean).to.be.closeTo(0.92, 1e-12);
    expect(s.std).to.be.closeTo(0.02, 1e-12);
    expect(formatPercent(s)).to.equal('92.00 ± 2.00');
    expect(formatPercent(meanStd([0.5]))).to.equal('50.00');
  });
});

describe('vitas retrain of several specs and seeds (in process)', () => {
  it('trains each (spec, seed) on the first --limit images, tabulates test top-1 as mean ± std over the seeds, and does not train a finished run again', function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-many-'));
    const blk = (attention: string, extra: object): object => ({ op: 'attn', attention, heads: 2, qkv: 24, mlp: 16, ...extra });
    const spec = (b: object): object => ({ version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [b] });
    writeFileSync(join(dir, 'soft.json'), JSON.stringify(spec(blk('softmax', {}))));
    writeFileSync(join(dir, 'lin.json'), JSON.stringify(spec(blk('linformer', { features: 4 }))));
    const out = join(dir, 'runs');
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'retrain', join(dir, 'soft.json'), join(dir, 'lin.json'), '--data', fixture('fashion-mnist-mini'), '--validation', '100', '--limit', '300', '--epochs', '1', '--batch', '50', '--seeds', '0,1', '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    for (const name of ['soft', 'lin']) {
      const runs = [0, 1].map((s) => JSON.parse(readFileSync(join(out, `${name}-seed${s}`, 'results.json'), 'utf8')) as { testAccuracy: number; history: { trainImages: number }[] });
      // --limit 300 with 100 held out for validation: 200 training images per epoch
      for (const run of runs) expect(run.history[0]!.trainImages).to.equal(200);
      const cell = formatPercent(meanStd(runs.map((x) => x.testAccuracy)));
      expect(r.stdout).to.match(new RegExp(`\\| ${name} +\\|.*\\| 2 +\\|.*\\| ${cell.replace(/[.]/g, '\\.')} +\\|`));
    }
    expect(readFileSync(join(out, 'summary.svg'), 'utf8')).to.include('<svg');
    expect(existsSync(join(out, 'summary.md'))).to.equal(true);

    // the same command again (--resume) continues the list: every run is finished, so none trains again
    const before = [0, 1].map((s) => statSync(join(out, `soft-seed${s}`, 'results.json')).mtimeMs);
    const again = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'retrain', join(dir, 'soft.json'), join(dir, 'lin.json'), '--data', fixture('fashion-mnist-mini'), '--validation', '100', '--limit', '300', '--epochs', '1', '--batch', '50', '--seeds', '0,1', '--out', out, '--resume'], { encoding: 'utf8' });
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stderr).not.to.match(/mean loss/);
    expect([0, 1].map((s) => statSync(join(out, `soft-seed${s}`, 'results.json')).mtimeMs)).to.deep.equal(before);
    expect(again.stdout).to.equal(r.stdout);
  });
});
