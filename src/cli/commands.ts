import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import {
  VERSION,
  VitasError,
  CONVENTIONS,
  flops,
  formatMacs,
  formatScore,
  initBackend,
  listSpaces,
  loadSpec,
  evaluateSupernetRun,
  markdownTable,
  withCommas,
  type Convention,
  runSupernetTraining,
  search,
  runRetrain, retrainSettings, specNames,
  runEval,
  runAblation,
  supernetFidelity,
  PROXY_NAMES,
  type ProxyName,
} from '../index.js';
import { trainingProgress, searchProgress, holdLine, releaseHeld, dropHeld, say, stopOnInterrupt } from './progress.js';
import { addQueueCommands, QUEUE_FLAG_HELP, retrainSeveral, seedList } from './queue-commands.js';

function convention(value: string): Convention {
  if (!(CONVENTIONS as readonly string[]).includes(value)) throw new VitasError(`--convention: "${value}" is not allowed; allowed: ${CONVENTIONS.join(', ')}`);
  return value as Convention;
}

const conventionOption = (): Option => new Option('--convention <name>', 'MACs convention: macs (N = patches + cls, head once) or vitas (the ViTAS paper: N = patches, head per token)').default('macs');

export function buildProgram(program: Command): Command {
  program
    .name('vitas')
    .description('Neural architecture search for vision transformers (ViTAS) on TensorFlow.js')
    .version(VERSION);

  program
    .command('flops')
    .description('MACs ("FLOPs") and parameters of an arch spec or a preset network')
    .argument('[spec]', 'arch spec JSON file')
    .option('--preset <name>', 'a preset network: deit-tiny, deit-small, deit-base, vitas-c')
    .addOption(conventionOption())
    .option('--per-layer', 'print a per-layer table')
    .option('--json', 'print {"macs", "params", "convention"} as JSON')
    .action((file: string | undefined, o: { preset?: string; convention: string; perLayer?: boolean; json?: boolean }) => {
      if (!file === !o.preset) throw new VitasError('flops: give a spec file or --preset NAME (one of them)');
      const conv = convention(o.convention);
      const r = file ? flops(loadSpec(file), conv) : flops(o.preset!, conv);
      if (o.json) {
        const out: Record<string, unknown> = { macs: r.macs, params: r.params, convention: r.convention };
        if (o.perLayer) out.layers = r.layers;
        console.log(JSON.stringify(out));
        return;
      }
      if (o.perLayer) {
        const rows = r.layers.map((l) => [l.layer, withCommas(l.macs), withCommas(l.params)]);
        rows.push(['**total**', `**${withCommas(r.macs)}**`, `**${withCommas(r.params)}**`]);
        console.log(markdownTable(['layer', 'MACs', 'params'], rows, ['left', 'right', 'right']));
      }
      console.log(`${file ?? o.preset}: ${withCommas(r.macs)} MACs (${formatMacs(r.macs)}, convention ${r.convention}), ${withCommas(r.params)} params (${formatMacs(r.params)})`);
    });

  program
    .command('spaces')
    .description('list the preset search spaces with their reachable MACs range')
    .addOption(conventionOption())
    .option('--json', 'print as JSON')
    .action((o: { convention: string; json?: boolean }) => {
      const list = listSpaces(convention(o.convention));
      if (o.json) return console.log(JSON.stringify(list, null, 2));
      console.log(
        markdownTable(
          ['space', 'min MACs', 'max MACs', 'description'],
          list.map((s) => [s.name, formatMacs(s.minMacs), formatMacs(s.maxMacs), s.description]),
          ['left', 'right', 'right', 'left'],
        ),
      );
      console.log(`(convention ${o.convention})`);
    });

  program
    .command('info')
    .description('the TensorFlow.js backend in use, its version, threads and SIMD, and why others were skipped')
    .option('--backend <name>', 'force a backend: node-gpu, node, wasm, cpu (also VITAS_BACKEND)')
    .option('--json', 'print as JSON')
    .action(async (o: { backend?: string; json?: boolean }) => {
      const info = await initBackend(o.backend);
      if (o.json) return console.log(JSON.stringify({ vitas: VERSION, ...info }, null, 2));
      console.log(`vitas ${VERSION}, node ${process.version}`);
      console.log(`backend: ${info.name} (tfjs "${info.tfBackend}"), tfjs-core ${info.tfjsVersion}, threads ${info.threads}, SIMD ${info.simd === null ? 'n/a' : info.simd ? 'on' : 'off'}`);
      for (const s of info.skipped) console.log(`skipped ${s.name}: ${s.reason}`);
    });

  const supernet = program.command('supernet').description('the weight-sharing super-transformer');
  supernet
    .command('train')
    .description('train the supernet of a search definition on its data (checkpoint every epoch; Ctrl-C saves and exits)')
    .requiredOption('--config <file>', 'search definition, e.g. searches/fashion-mnist.json')
    .option('--epochs <n>', 'epochs (overrides the definition)', (v) => positiveInt(v, '--epochs'))
    .option('--budget <macs>', 'budget window max, e.g. 12M (overrides the definition)')
    .option('--min <macs>', 'budget window min (default 90 % of max)')
    .option('--data <dir>', 'dataset directory (overrides the definition)')
    .option('--out <dir>', 'run folder (default runs/<name>-supernet)')
    .option('--resume', 'continue from the run folder\'s checkpoint')
    .option('--force', 'start over in a run folder that holds a run (its checkpoint and outputs are replaced)')
    .option('--threads <n>', 'threads per step, data-parallel (default: every core on wasm/cpu, 1 on native backends)', (v) => positiveInt(v, '--threads'))
    .option('--val-images <n>', 'validation images for the per-epoch learning curve (curve.svg) of the smallest/median/largest subnet; 0: none (1000)', (v) => wholeNumber(v, '--val-images'))
    .option('--sandwich', 'train the largest and smallest subnet with the sampled one every step (overrides the definition; with --resume: from here on)')
    .option('--no-sandwich', 'one sampled subnet per step (overrides the definition)')
    .option('--restart-lr <lr>', 'with --resume: a new stage whose cosine restarts at this learning rate and ends at --epochs', (v) => positiveNumber(v, '--restart-lr'))
    .option('--backend <name>', 'force a backend: node-gpu, node, wasm, cpu')
    .action(async (o: { config: string; epochs?: number; budget?: string; min?: string; data?: string; out?: string; resume?: boolean; force?: boolean; threads?: number; valImages?: number; sandwich?: boolean; restartLr?: number; backend?: string }) => {
      const info = await initBackend(o.backend);
      holdLine(`backend: ${info.name}`);
      const { signal, release } = stopOnInterrupt('stopping after this step and saving a checkpoint (Ctrl-C again to abort)…');
      const progress = trainingProgress('supernet');
      try {
        const r = await runSupernetTraining({ config: o.config, ...pick(o, ['epochs', 'budget', 'min', 'data', 'out', 'resume', 'force', 'threads', 'valImages', 'sandwich', 'restartLr']), events: progress, signal });
        progress.stop();
        releaseHeld();
        if (r.result.stopped) {
          say(`saved ${r.result.checkpoint}; continue with --resume --out ${r.out}`);
          process.exitCode = 130;
          return;
        }
        console.log(markdownTable(['subnet', 'MACs', 'val top-1'], r.scores.map((s) => [s.name, formatMacs(s.macs), `${(100 * s.valAccuracy).toFixed(2)} %`]), ['left', 'right', 'right']));
        console.log(`supernet: ${r.out}/supernet.ckpt`);
      } finally {
        release();
      }
    });

  supernet
    .command('eval')
    .description('inherited-weight validation top-1 of subnets of a trained supernet (default: its smallest, median and largest)')
    .requiredOption('--config <file>', 'the search definition the supernet was trained with')
    .requiredOption('--supernet <run-dir>', 'run folder holding supernet.ckpt')
    .option('--spec <file...>', 'arch specs to measure instead of the reference subnets')
    .option('--val-images <n>', 'the first N validation images (default: all)', (v) => positiveInt(v, '--val-images'))
    .option('--data <dir>', 'dataset directory (overrides the definition)')
    .option('--json', 'print the rows as JSON')
    .option('--backend <name>', 'force a backend: node-gpu, node, wasm, cpu')
    .action(async (o: { config: string; supernet: string; spec?: string[]; valImages?: number; data?: string; json?: boolean; backend?: string }) => {
      await initBackend(o.backend);
      const rows = evaluateSupernetRun({
        config: o.config,
        supernet: o.supernet,
        ...pick(o, ['valImages', 'data']),
        ...(o.spec ? { specs: o.spec.map((f) => ({ name: f, spec: loadSpec(f) })) } : {}),
      });
      if (o.json) console.log(JSON.stringify(rows.map(({ name, macs, valAccuracy }) => ({ name, macs, valAccuracy }))));
      else console.log(markdownTable(['subnet', 'MACs', 'val top-1'], rows.map((r) => [r.name, formatMacs(r.macs), `${(100 * r.valAccuracy).toFixed(2)} %`]), ['left', 'right', 'right']));
    });

  supernet
    .command('rank')
    .description('ranking fidelity of a trained supernet: Kendall τ (bootstrap 95 % interval) between inherited and stand-alone accuracy over matched-cost subnets, and the proxies\' τ; writes report.md, results.json, kendall.svg')
    .requiredOption('--config <file>', 'the search definition the supernet was trained with (its budget window, data and retrain recipe)')
    .requiredOption('--supernet <run-dir>', 'run folder holding supernet.ckpt')
    .option('--subnets <n>', 'matched-cost subnets (20)', (v) => positiveInt(v, '--subnets'))
    .option('--epochs <n>', 'stand-alone epochs per subnet (2)', (v) => positiveInt(v, '--epochs'))
    .option('--limit <n>', 'stand-alone training reads only the first N training images (default: all)', (v) => positiveInt(v, '--limit'))
    .option('--val-images <n>', 'inherited accuracy on the first N validation images (default: all)', (v) => positiveInt(v, '--val-images'))
    .option('--seeds <n>', 'stand-alone trainings per subnet (1): with 2 or more, their mean is the ground truth, and seed 1 against seed 2 gives the ceiling of τ', (v) => positiveInt(v, '--seeds'))
    .option('--standalone-cache <dir>', 'folder of stand-alone accuracies: each subnet is trained once, and a stopped run keeps what it trained (default runs/standalone-cache)')
    .option('--out <dir>', 'output folder (default <supernet>/rank)')
    .option('--force', 'replace the report of an earlier run in --out')
    .option('--backend <name>', 'force a backend: node-gpu, node, wasm, cpu')
    .option('--queue <url>', QUEUE_FLAG_HELP + ' (the stand-alone trainings)')
    .action(async (o: { config: string; supernet: string; subnets?: number; epochs?: number; limit?: number; valImages?: number; seeds?: number; standaloneCache?: string; out?: string; force?: boolean; backend?: string; queue?: string }) => {
      await initBackend(o.backend);
      const r = await supernetFidelity({
        config: o.config,
        supernet: o.supernet,
        ...pick(o, ['subnets', 'epochs', 'limit', 'valImages', 'seeds', 'standaloneCache', 'force', 'queue']),
        out: o.out ?? `${o.supernet.replace(/\/+$/, '')}/rank`,
        onLog: (m) => say(`rank: ${m}`),
      });
      console.log(readFileSync(`${r.out}/report.md`, 'utf8'));
    });

  program
    .command('search')
    .description('evolutionary (or random) search under a MACs budget; writes runs/<name>/ with best-arch.json, history.jsonl, pareto.svg, summary.md')
    .option('--budget <macs>', 'budget window max: 1.3G, 850M, 12e6 …')
    .option('--min <macs>', 'budget window min (default 90 % of --budget)')
    .option('--config <file>', 'search definition (space, data, budget, supernet recipe), e.g. searches/fashion-mnist.json')
    .option('--space <name|file>', 'search space (default: the config\'s, else vitas-1g at 224×224)')
    .option('--data <dir>', 'dataset directory (overrides the config)')
    .option('--supernet <run-dir>', 'a trained supernet (folder holding supernet.ckpt): skip training')
    .option('--evaluator <name>', 'supernet | proxy (default: supernet with --config, else proxy)')
    .option('--proxy <name>', `the training-free proxy: ${PROXY_NAMES.join(' | ')} (default: the one with the best measured Kendall τ, else snip)`)
    .option('--strategy <name>', 'evolution | random (random search with the same number of evaluations; default evolution)')
    .option('--population <n>', 'candidates per generation (50)', (v) => positiveInt(v, '--population'))
    .option('--generations <n>', 'generations (20)', (v) => positiveInt(v, '--generations'))
    .option('--seed <n>', 'seed (same seed, same trajectory)', (v) => wholeNumber(v, '--seed'))
    .addOption(new Option('--convention <name>', 'MACs convention of the budget: macs | vitas'))
    .option('--min-params <n>', 'parameter window min (K/M suffixes allowed)')
    .option('--max-params <n>', 'parameter window max (K/M suffixes allowed)')
    .option('--max-latency-ms <ms>', 'latency limit: median forward time of the standalone subnet (batch 1) on this backend', (v) => positiveNumber(v, '--max-latency-ms'))
    .option('--out <dir>', 'run folder (default runs/<name>-<strategy>)')
    .option('--resume', 'continue the search saved in --out exactly (flags left out keep their saved values; --generations, --data, --queue and --backend may change)')
    .option('--force', 'start over in an --out that holds a search run (its outputs are replaced)')
    .option('--json', 'print the best spec and its figures as JSON on stdout')
    .option('--backend <name>', 'force a backend: node-gpu, node, wasm, cpu')
    .option('--queue <url>', QUEUE_FLAG_HELP)
    .action(async (o: { budget?: string; min?: string; config?: string; space?: string; data?: string; supernet?: string; evaluator?: string; proxy?: string; strategy?: string; population?: number; generations?: number; seed?: number; convention?: string; minParams?: string; maxParams?: string; maxLatencyMs?: number; out?: string; resume?: boolean; force?: boolean; json?: boolean; backend?: string; queue?: string }) => {
      if (o.evaluator !== undefined && o.evaluator !== 'supernet' && o.evaluator !== 'proxy') throw new VitasError(`--evaluator: "${o.evaluator}" is not allowed; allowed: supernet, proxy`);
      if (o.strategy !== undefined && o.strategy !== 'evolution' && o.strategy !== 'random') throw new VitasError(`--strategy: "${o.strategy}" is not allowed; allowed: evolution, random`);
      const info = await initBackend(o.backend);
      holdLine(`backend: ${info.name}`);
      const { signal, release } = stopOnInterrupt('stopping after this generation (or, while its supernet trains, this step) and saving (Ctrl-C again to abort)…');
      const progress = searchProgress();
      try {
        const r = await search({
          ...pick(o, ['budget', 'min', 'config', 'space', 'data', 'supernet', 'population', 'generations', 'seed', 'out', 'resume', 'force', 'backend', 'minParams', 'maxParams', 'maxLatencyMs', 'queue']),
          ...(o.evaluator ? { evaluator: o.evaluator as 'supernet' | 'proxy' } : {}),
          // the library checks the name (one line listing the allowed ones)
          ...(o.proxy !== undefined ? { proxy: o.proxy as ProxyName } : {}),
          ...(o.strategy ? { strategy: o.strategy as 'evolution' | 'random' } : {}),
          ...(o.convention ? { convention: convention(o.convention) } : {}),
          events: { ...progress, training: trainingProgress('supernet') },
          signal,
        });
        progress.stop();
        releaseHeld();
        if (r.stopped) {
          const where = r.state.generation > 0 ? `after generation ${r.state.generation}; state saved in ${r.out}/state.json` : `while training the supernet; checkpoint saved in ${r.out}/supernet`;
          say(`stopped ${where}; continue with: ${r.resumeCommand}`);
          process.exitCode = 130;
          return;
        }
        const summary = { best: r.best.spec, macs: r.best.macs, params: r.best.params, score: r.best.score, evaluator: r.evaluator, out: r.out };
        if (o.json) console.log(JSON.stringify(summary));
        else {
          console.log(`evaluator: ${r.evaluator} (${r.reason})`);
          console.log(`best: score ${formatScore(r.best.score)}, ${withCommas(r.best.macs)} MACs (${formatMacs(r.best.macs)}), ${formatMacs(r.best.params)} params`);
          console.log(`wrote ${r.out}/best-arch.json, history.jsonl, pareto.svg, summary.md`);
        }
      } finally {
        release();
      }
    });

  program
    .command('retrain')
    .description('train the standalone network of a spec from scratch (or from supernet weights); saves model.json + weights.bin, evaluates the test split once at the end')
    .argument('<spec...>', 'arch spec JSON, e.g. runs/<run>/best-arch.json (several: one run each, under --out)')
    .option('--config <file>', 'a search definition: its data and its retrain recipe (flags given win), e.g. searches/fashion-mnist.json')
    .option('--data <name|dir>', 'fashion-mnist, mnist, cifar10, cifar100, or a folder (required without --config)')
    .option('--epochs <n>', 'epochs (10)', (v) => positiveInt(v, '--epochs'))
    .option('--batch <n>', 'batch size (64)', (v) => positiveInt(v, '--batch'))
    .option('--lr <x>', 'peak learning rate (1e-3)', (v) => positiveNumber(v, '--lr'))
    .option('--drop-path <x>', 'drop-path rate of the last block (0.1)', (v) => fraction(v, '--drop-path'))
    .option('--seed <n>', 'seed', (v) => wholeNumber(v, '--seed'))
    .option('--validation <n>', 'training images held out for model selection (5000)', (v) => positiveInt(v, '--validation'))
    .option('--limit <n>', 'read only the first N training images (validation is carved from them); quick or matched-budget runs', (v) => positiveInt(v, '--limit'))
    .option('--init-from-supernet <run-dir>', 'start from the inherited weights of a trained supernet')
    .option('--out <dir>', 'output folder (default runs/retrain-<spec name>)')
    .option('--resume', 'continue from --out\'s checkpoint')
    .option('--force', 'start over in an --out that holds a retrain run (its checkpoint and model are replaced)')
    .option('--backend <name>', 'force a backend: node-gpu, node, wasm, cpu')
    .option('--seeds <list>', 'several seeds, e.g. 0,1,2: one run per spec and seed, under --out', seedList)
    .option('--queue <url>', QUEUE_FLAG_HELP)
    .action(async (files: string[], flags: { config?: string; data?: string; epochs?: number; batch?: number; lr?: number; dropPath?: number; seed?: number; validation?: number; limit?: number; initFromSupernet?: string; out?: string; resume?: boolean; force?: boolean; backend?: string; seeds?: number[]; queue?: string }) => {
      const { recipe, ...settings } = retrainSettings(flags, flags.config);
      const o = { ...flags, ...settings };
      const info = await initBackend(o.backend);
      holdLine(`backend: ${info.name}`);
      if (files.length > 1 || o.seeds || o.queue) return retrainSeveral(files, o, recipe);
      const file = files[0]!;
      const spec = loadSpec(file);
      const { signal, release } = stopOnInterrupt('stopping after this step and saving a checkpoint (Ctrl-C again to abort)…');
      const progress = trainingProgress('retrain');
      try {
        const r = await runRetrain({
          spec, specFile: file, data: o.data, recipe, out: o.out ?? `runs/retrain-${specNames([file])[0]!}`, version: VERSION,
          ...pick(o, ['epochs', 'validation', 'limit', 'initFromSupernet', 'resume', 'force']),
          events: { ...progress, onValidation: (e) => say(`retrain: epoch ${e.epoch} validation top-1 ${(100 * e.valAccuracy).toFixed(2)} %`) },
          signal,
        });
        progress.stop();
        releaseHeld();
        if (r.stopped) {
          say(`saved a checkpoint in ${r.out}; continue with --resume --out ${r.out}`);
          process.exitCode = 130;
          return;
        }
        console.log(`best validation top-1 ${(100 * r.bestValAccuracy).toFixed(2)} % (epoch ${r.bestEpoch}); test top-1 ${(100 * (r.test?.top1 ?? NaN)).toFixed(2)} %, top-5 ${(100 * (r.test?.top5 ?? NaN)).toFixed(2)} %`);
        console.log(`model: ${r.out}/model.json + weights.bin; ${r.out}/test.md`);
      } finally {
        release();
      }
    });

  program
    .command('eval')
    .description('top-1, top-5, per-class accuracy and the confusion matrix of a saved model')
    .argument('<model-dir>', 'a folder written by vitas retrain (model.json + weights.bin)')
    .requiredOption('--data <name|dir>', 'fashion-mnist, mnist, cifar10, cifar100, or a folder')
    .option('--split <name>', 'test | val', 'test')
    .option('--validation <n>', 'validation images carved from training (as in retrain: 5000)', (v) => positiveInt(v, '--validation'))
    .option('--json', 'print as JSON')
    .option('--backend <name>', 'force a backend')
    .action(async (dir: string, o: { data: string; split: string; validation?: number; json?: boolean; backend?: string }) => {
      if (o.split !== 'test' && o.split !== 'val') throw new VitasError(`--split: "${o.split}" is not allowed; allowed: test, val`);
      await initBackend(o.backend);
      const r = runEval({ modelDir: dir, data: o.data, split: o.split, ...(o.validation ? { validation: o.validation } : {}) });
      console.log(o.json ? JSON.stringify(r.evaluation) : r.markdown);
    });

  program
    .command('ablate')
    .description('run an ablation definition (searches/ablations/*.json): every arm trained and measured alike; writes report.md, results.csv, results.json, kendall.svg')
    .argument('<definition>', 'ablation definition JSON')
    .option('--out <dir>', 'output folder (default runs/ablation-<name>)')
    .option('--force', 'replace the report of an earlier ablation in --out')
    .option('--standalone-cache <dir>', 'folder of stand-alone accuracies shared by ablations over the same base: each subnet is trained once (default runs/standalone-cache)')
    .option('--backend <name>', 'force a backend')
    .option('--queue <url>', QUEUE_FLAG_HELP)
    .action(async (file: string, o: { out?: string; force?: boolean; standaloneCache?: string; backend?: string; queue?: string }) => {
      await initBackend(o.backend);
      const name = file.replace(/^.*\//, '').replace(/\.json$/, '');
      const r = await runAblation(file, { out: o.out ?? `runs/ablation-${name}`, ...(o.queue ? { queue: o.queue } : {}), ...(o.force ? { force: true } : {}), ...(o.standaloneCache ? { standaloneCache: o.standaloneCache } : {}), events: { onLog: (m) => say(`ablate: ${m}`), training: trainingProgress('supernet') } });
      console.log(readFileSync(`${r.out}/report.md`, 'utf8'));
    });

  addQueueCommands(program);
  return program;
}


/** A flag's number: "not a number" and "not finite" (`1e400`) are told apart. */
function numberOf(v: string, flag: string): number {
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new VitasError(`${flag}: "${v}" is not a number`);
  if (!Number.isFinite(n)) throw new VitasError(`${flag}: "${v}" is not finite`);
  return n;
}

function positiveNumber(v: string, flag: string): number {
  const n = numberOf(v, flag);
  if (n <= 0) throw new VitasError(`${flag}: "${v}" must be a positive number`);
  return n;
}

function fraction(v: string, flag: string): number {
  const n = numberOf(v, flag);
  if (n < 0 || n >= 1) throw new VitasError(`${flag}: "${v}" must be a number in [0, 1)`);
  return n;
}

function wholeNumber(v: string, flag: string): number {
  const n = numberOf(v, flag);
  if (!Number.isInteger(n)) throw new VitasError(`${flag}: "${v}" must be a whole number`);
  return n;
}

function positiveInt(v: string, flag: string): number {
  const n = numberOf(v, flag);
  if (!Number.isInteger(n) || n < 1) throw new VitasError(`${flag}: "${v}" must be a positive whole number`);
  return n;
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/**
 * Commander's usage errors (unknown option, missing option or argument, unknown command) become
 * one `vitas:` line naming the command, exit 2, like every other bad input.
 */
function oneLineUsageErrors(cmd: Command, path: string): void {
  cmd.configureOutput({
    outputError: (message) => {
      const where = path === 'vitas' ? '' : `${path.slice('vitas '.length)}: `;
      throw new VitasError(`${where}${message.replace(/^error: /, '').trim()} (see ${path} --help)`);
    },
  });
  for (const sub of cmd.commands) oneLineUsageErrors(sub, `${path} ${sub.name()}`);
}

/** Parse and run; one-line errors for bad input (exit 2), stack traces only for bugs (exit 1). */
export async function runCli(program: Command, argv: string[]): Promise<void> {
  try {
    const built = buildProgram(program);
    oneLineUsageErrors(built, 'vitas');
    await built.parseAsync(argv);
    releaseHeld();
  } catch (e) {
    dropHeld();
    if (e instanceof VitasError) {
      console.error(`vitas: ${e.message}`);
      process.exitCode = 2;
    } else {
      console.error(e);
      process.exitCode = 1;
    }
    throw e;
  }
}
