/**
 * Issue 12, part A: the search / CLI flow as a new user meets it. Every command runs the built CLI
 * in its own process under a deadline: a command that hangs fails its test (and is killed) instead
 * of hanging the suite. Nothing here asserts on speed.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { search, sampleSpec, Rng, ParallelProxyEvaluator, VitasError, type Evaluator } from '../src/index.js';
import { fixture, ROOT, tinySpace } from './helpers.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
/** Far above any of these commands' run time; only a hang reaches it. */
const DEADLINE_MS = 90_000;

interface Run { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/** Run `vitas …`; fails (after killing it) when it has not exited by the deadline. `onErr` sees stderr as it comes. */
function vitas(args: string[], opts: { onErr?: (err: string, pid: number) => void; shell?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const child = opts.shell ? spawn('sh', ['-c', opts.shell], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env }) : spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
    opts.onErr?.(err, child.pid!);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vitas ${opts.shell ?? args.join(' ')}: still running after ${DEADLINE_MS / 1000} s (a hang); stderr so far:\n${err}`));
    }, DEADLINE_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

/** The one stderr line of a run that failed on bad input (exit 2). */
function oneErrorLine(r: Run): string {
  expect(r.code, r.err).to.equal(2);
  const lines = r.err.trim().split('\n');
  expect(lines, r.err).to.have.length(1);
  expect(lines[0]).to.match(/^vitas: /);
  return lines[0]!;
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'vitas-rel-'));
/** A quick proxy search on the small fmnist space. */
const quick = (out: string, ...more: string[]): string[] => ['search', '--space', 'fmnist', '--budget', '12M', '--population', '4', '--generations', '2', '--seed', '1', '--out', out, ...more];
const stateOf = (dir: string): { generation: number; config: { generations: number } } => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { generation: number; config: { generations: number } };

describe('reliability (issue 12, search and CLI)', function () {
  this.timeout(4 * DEADLINE_MS);
  let finished: string; // a finished quick search, copied from by the tests that break a run folder

  before(async () => {
    finished = join(tmp(), 'run');
    const r = await vitas(quick(finished));
    expect(r.code, r.err).to.equal(0);
  });

  const copyRun = (): string => {
    const dir = join(tmp(), 'run');
    mkdirSync(dir);
    for (const f of ['config.json', 'state.json', 'history.jsonl']) writeFileSync(join(dir, f), readFileSync(join(finished, f)));
    return dir;
  };

  describe('2. no command hangs after an error once the proxy workers could have started', () => {
    it('a starved budget window (--min 1.3G --budget 1.3G) exits 2 with one line naming the constraint', async () => {
      const line = oneErrorLine(await vitas(['search', '--budget', '1.3G', '--min', '1.3G', '--out', join(tmp(), 'x')]));
      expect(line).to.include('"macs" constraint [1.3G, 1.3G]');
    });

    it('--resume on a folder with no saved search exits 2 naming state.json', async () => {
      const dir = tmp();
      expect(oneErrorLine(await vitas(['search', '--budget', '1.3G', '--out', dir, '--resume']))).to.equal(`vitas: ${dir}/state.json: no search state to resume; start without --resume`);
    });

    it('a write that fails after the workers have run (history.jsonl is a folder) still ends them: exit 2 naming the file', async () => {
      const dir = copyRun();
      rmSync(join(dir, 'history.jsonl'));
      mkdirSync(join(dir, 'history.jsonl', 'x'), { recursive: true });
      const r = await vitas(['search', '--out', dir, '--resume', '--generations', '3']);
      expect(r.code, r.err).to.equal(2);
      expect(stateOf(dir).generation).to.equal(3); // the workers did score a generation first
      expect(r.err.trim().split('\n').at(-1)).to.equal(`vitas: ${dir}/history.jsonl: cannot write (is a folder)`);
    });

    it('search() ends its evaluator when the search fails after the evaluator was built', async () => {
      let disposed = 0;
      const failing: Evaluator = { name: 'failing', higherIsBetter: true, evaluate: () => Promise.reject(new VitasError('scoring failed')), dispose: () => void disposed++ };
      let err: unknown;
      try {
        await search({ space: 'fmnist', budget: '12M', population: 2, generations: 1, out: tmp(), customEvaluator: failing });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.equal('scoring failed');
      expect(disposed).to.equal(1);
    });

    it('a proxy worker that dies fails the evaluation instead of leaving it waiting', async () => {
      const evaluator = new ParallelProxyEvaluator(tinySpace, { seed: 1, workers: 1 });
      const spec = sampleSpec(tinySpace, new Rng(1));
      await evaluator.evaluate([spec]); // started and answering
      const worker = (evaluator as unknown as { workers: { worker: { terminate(): Promise<number> } }[] }).workers[0]!.worker;
      await worker.terminate();
      let err: unknown;
      try {
        await evaluator.evaluate([sampleSpec(tinySpace, new Rng(2))]);
      } catch (e) {
        err = e;
      }
      evaluator.dispose();
      expect((err as Error).message).to.match(/^proxy worker: /);
    });
  });

  describe('3. a run folder is never overwritten silently', () => {
    it('search on a finished run folder refuses with one line naming --out, and leaves the run as it was', async () => {
      const dir = copyRun();
      const before = readFileSync(join(dir, 'history.jsonl'), 'utf8');
      const line = oneErrorLine(await vitas(quick(dir, '--seed', '2')));
      expect(line).to.equal(`vitas: --out: ${dir} already holds a search run (state.json, history.jsonl); add --resume to continue it or --force to start over, or choose another --out`);
      expect(readFileSync(join(dir, 'history.jsonl'), 'utf8')).to.equal(before);
    });

    it('--force starts the search over in that folder', async () => {
      const dir = copyRun();
      const r = await vitas([...quick(dir, '--force'), '--population', '3']);
      expect(r.code, r.err).to.equal(0);
      expect(readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n')).to.have.length(6);
    });

    it('supernet train, retrain and ablate refuse an --out holding their kind of run, each with one line', async () => {
      const supernet = tmp();
      writeFileSync(join(supernet, 'supernet.ckpt'), 'earlier run');
      expect(oneErrorLine(await vitas(['supernet', 'train', '--config', join(ROOT, 'searches/fashion-mnist.json'), '--out', supernet]))).to.include(`--out: ${supernet} already holds a supernet run (supernet.ckpt)`);
      const retrain = tmp();
      writeFileSync(join(retrain, 'model.json'), '{}');
      expect(oneErrorLine(await vitas(['retrain', join(ROOT, 'examples/fmnist-deit.json'), '--data', fixture('fashion-mnist-mini'), '--out', retrain]))).to.include(`--out: ${retrain} already holds a retrain run (model.json)`);
      const ablation = tmp();
      writeFileSync(join(ablation, 'report.md'), '# earlier');
      const line = oneErrorLine(await vitas(['ablate', join(ROOT, 'searches/ablations/private-class-token.json'), '--out', ablation]));
      expect(line).to.equal(`vitas: --out: ${ablation} already holds a finished ablation (report.md); add --force to replace it, or choose another --out`);
      expect(readFileSync(join(ablation, 'report.md'), 'utf8')).to.equal('# earlier');
    });

    it('retrain of several specs refuses a folder holding a run of other settings, or another list\'s summary', async () => {
      const list = ['retrain', join(ROOT, 'examples/fmnist-deit.json'), '--data', fixture('fashion-mnist-mini'), '--seeds', '0'];
      const dir = tmp();
      const other = join(dir, 'other');
      mkdirSync(join(other, 'fmnist-deit-seed0'), { recursive: true });
      writeFileSync(join(other, 'fmnist-deit-seed0', 'model.json'), '{}');
      expect(oneErrorLine(await vitas([...list, '--out', other]))).to.equal(`vitas: --out: ${other}/fmnist-deit-seed0 holds a retrain run of other settings (its job.json); add --force to replace it, or choose another --out`);
      const summary = join(dir, 'summary');
      mkdirSync(summary);
      writeFileSync(join(summary, 'results.json'), JSON.stringify({ runs: [{ out: join(summary, 'b-seed0') }] }));
      expect(oneErrorLine(await vitas([...list, '--out', summary]))).to.equal(`vitas: --out: ${summary} holds the summary of another list of runs (b-seed0); add --force to replace it, or choose another --out`);
    });
  });

  describe('4. --resume checks its flags against the saved run', () => {
    it('refuses a conflicting --budget, --seed, --population or --space with one line naming the flag, the given and the saved value', async () => {
      const dir = copyRun();
      const cases: [string[], string][] = [
        [['--budget', '1G'], `--budget: 1G conflicts with the run being resumed (12M, in ${dir}/config.json)`],
        [['--seed', '2'], `--seed: 2 conflicts with the run being resumed (1, in ${dir}/config.json)`],
        [['--population', '5'], `--population: 5 conflicts with the run being resumed (4, in ${dir}/config.json)`],
        [['--space', 'vitas-1g'], `--space: vitas-1g conflicts with the run being resumed (space "fmnist", in ${dir}/config.json)`],
      ];
      for (const [flags, message] of cases) expect(oneErrorLine(await vitas(['search', '--out', dir, '--resume', ...flags]))).to.include(message);
      expect(stateOf(dir).generation).to.equal(2);
    });

    it('allows more --generations, says so on stderr, and runs on to exactly that generation', async () => {
      const dir = copyRun();
      const r = await vitas([...quick(dir, '--resume'), '--generations', '3']);
      expect(r.code, r.err).to.equal(0);
      expect(r.err).to.include('search: resume: --generations 3 instead of the saved 2: running on to generation 3');
      expect(stateOf(dir).generation).to.equal(3);
    });

    it('refuses --generations below the generations already run, and runs nothing', async () => {
      const dir = copyRun();
      const line = oneErrorLine(await vitas(['search', '--out', dir, '--resume', '--generations', '1']));
      expect(line).to.equal(`vitas: --generations: 1 is fewer than the 2 generations ${dir}/state.json has already run; give 2 or more, or leave it out`);
      expect(stateOf(dir).generation).to.equal(2);
    });

    it('Ctrl-C prints a resume command that, run as printed, finishes the search exactly as an uninterrupted run', async () => {
      const base = tmp();
      // SNIP: slow enough that the Ctrl-C lands mid-search (the default proxy, params, is not)
      const args = (out: string): string[] => ['search', '--space', 'fmnist', '--budget', '12M', '--min', '9M', '--population', '6', '--generations', '12', '--seed', '3', '--proxy', 'snip', '--out', out];
      const whole = await vitas(args(join(base, 'whole')));
      expect(whole.code, whole.err).to.equal(0);
      let sent = false;
      const stopped = await vitas(args(join(base, 'stopped')), {
        onErr: (err, pid) => {
          if (!sent && err.includes('generation 1/12')) {
            sent = true;
            process.kill(pid, 'SIGINT');
          }
        },
      });
      expect(stopped.code, stopped.err).to.equal(130);
      const hint = /continue with: (vitas search .*)$/m.exec(stopped.err)?.[1];
      expect(hint, stopped.err).to.be.a('string');
      expect(stateOf(join(base, 'stopped')).generation).to.be.below(12);
      // `vitas` on PATH as an installed package puts it
      const bin = join(base, 'bin');
      mkdirSync(bin);
      writeFileSync(join(bin, 'vitas'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
      chmodSync(join(bin, 'vitas'), 0o755);
      const resumed = await vitas([], { shell: hint!, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
      expect(resumed.code, resumed.err).to.equal(0);
      expect(readFileSync(join(base, 'stopped', 'history.jsonl'), 'utf8')).to.equal(readFileSync(join(base, 'whole', 'history.jsonl'), 'utf8'));
    });
  });

  describe('5. a broken run folder or --out is one line naming it, exit 2', () => {
    it('a truncated state.json', async () => {
      const dir = copyRun();
      writeFileSync(join(dir, 'state.json'), readFileSync(join(dir, 'state.json'), 'utf8').slice(0, 100));
      expect(oneErrorLine(await vitas(['search', '--out', dir, '--resume']))).to.match(new RegExp(`^vitas: ${dir}/state.json: not valid JSON \\(`));
    });

    it('a foreign state.json: the JSON path that does not fit', async () => {
      const dir = copyRun();
      writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, epoch: 3 }));
      expect(oneErrorLine(await vitas(['search', '--out', dir, '--resume']))).to.equal(`vitas: ${dir}/state.json: config: is required`);
      const state = JSON.parse(readFileSync(join(finished, 'state.json'), 'utf8')) as { history: { spec: { patch: unknown } }[] };
      state.history[1]!.spec.patch = 'seven';
      writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
      expect(oneErrorLine(await vitas(['search', '--out', dir, '--resume']))).to.equal(`vitas: ${dir}/state.json: history[1].spec.patch: "seven" must be integer`);
    });

    it('a state.json of another run beside this config.json', async () => {
      const dir = copyRun();
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { config: { seed: number } };
      state.config.seed = 7;
      writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
      expect(oneErrorLine(await vitas(['search', '--out', dir, '--resume']))).to.equal(`vitas: ${dir}/state.json: does not belong to ${dir}/config.json: seed 7 there, 1 in config.json`);
    });

    it('an --out that cannot be a folder: under /proc, under a file, an existing file', async () => {
      const file = join(tmp(), 'file');
      writeFileSync(file, '');
      const cases: [string, string][] = [
        ['/proc/vitas-test', '--out: /proc/vitas-test: cannot create the folder (the file system at /proc does not take new folders)'],
        ['/proc/version/x', '--out: /proc/version/x: cannot create the folder (/proc/version is a file, not a folder)'],
        [join(file, 'x'), `--out: ${join(file, 'x')}: cannot create the folder (${file} is a file, not a folder)`],
        [file, `--out: ${file} is a file, not a folder`],
      ];
      for (const [out, message] of cases) expect(oneErrorLine(await vitas(['search', '--budget', '1.3G', '--out', out]))).to.equal(`vitas: ${message}`);
    });

    it('an --out folder without write permission (as non-root; root writes anyway)', async function () {
      if (process.getuid?.() === 0) this.skip();
      const dir = join(tmp(), 'ro');
      mkdirSync(dir, { mode: 0o555 });
      expect(oneErrorLine(await vitas(['search', '--budget', '1.3G', '--out', dir]))).to.equal(`vitas: --out: ${dir}: cannot write in this folder (permission denied)`);
    });
  });

  describe('7. usage errors, stderr and exit codes as the README promises', () => {
    it('an unknown option, a missing required option and a missing argument exit 2 with one line naming it', async () => {
      expect(oneErrorLine(await vitas(['search', '--budgt', '1G']))).to.equal("vitas: search: unknown option '--budgt' (Did you mean --budget?) (see vitas search --help)");
      expect(oneErrorLine(await vitas(['eval', 'a']))).to.equal("vitas: eval: required option '--data <name|dir>' not specified (see vitas eval --help)");
      // retrain takes its data from --data or from a definition's (--config): one of the two
      expect(oneErrorLine(await vitas(['retrain', 'a.json']))).to.equal('vitas: retrain: give --data <name|dir> or --config <search definition>');
      expect(oneErrorLine(await vitas(['ablate']))).to.equal("vitas: ablate: missing required argument 'definition' (see vitas ablate --help)");
    });

    it('a spec whose classes do not match the data is named by its file, and nothing else is printed', async () => {
      const spec = join(tmp(), 'c4.json');
      writeFileSync(spec, JSON.stringify({ version: 1, input: [28, 28, 1], classes: 4, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 1, qkv: 24, mlp: 16 }] }));
      expect(oneErrorLine(await vitas(['retrain', spec, '--data', fixture('fashion-mnist-mini'), '--validation', '100', '--out', join(tmp(), 'r')]))).to.equal(`vitas: ${spec}: classes 4 does not match the data's 10`);
    });

    it('a spec whose input does not match the data is named by its file; the backend line does not precede the error', async () => {
      const spec = join(tmp(), 'in32.json');
      writeFileSync(spec, JSON.stringify({ version: 1, input: [32, 32, 1], classes: 10, patch: 8, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 1, qkv: 24, mlp: 16 }] }));
      expect(oneErrorLine(await vitas(['retrain', spec, '--data', fixture('fashion-mnist-mini'), '--validation', '100', '--out', join(tmp(), 'r')]))).to.equal(`vitas: ${spec}: input 32×32×1 does not match the data's 28×28×1`);
    });

    it('a --validation too large for the data says --validation, not data.validation', async () => {
      const line = oneErrorLine(await vitas(['retrain', join(ROOT, 'examples/fmnist-deit.json'), '--data', fixture('fashion-mnist-mini'), '--out', join(tmp(), 'r')]));
      expect(line).to.equal('vitas: --validation: 5000 must be between 1 and 599 (the training images)');
    });

    it('1e400 is reported as not finite, for a budget and for a count', async () => {
      expect(oneErrorLine(await vitas(['search', '--budget', '1e400']))).to.equal('vitas: --budget: "1e400" is not finite; use a number with an optional K/M/G suffix, e.g. 1.3G, 850M, 12e6');
      expect(oneErrorLine(await vitas(['search', '--budget', '12M', '--population', '1e400']))).to.equal('vitas: --population: "1e400" is not finite');
    });
  });
});
