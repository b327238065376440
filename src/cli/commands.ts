import { Command, Option } from 'commander';
import {
  VERSION,
  VitasError,
  CONVENTIONS,
  flops,
  formatMacs,
  initBackend,
  listSpaces,
  loadSpec,
  markdownTable,
  withCommas,
  type Convention,
  runSupernetTraining,
} from '../index.js';
import { trainingProgress } from './progress.js';

function convention(value: string): Convention {
  if (!(CONVENTIONS as readonly string[]).includes(value)) throw new VitasError(`--convention: "${value}" is not allowed; allowed: ${CONVENTIONS.join(', ')}`);
  return value as Convention;
}

const conventionOption = (): Option => new Option('--convention <name>', 'MACs convention: macs (N = patches + cls, head once) or vitas (the ViTAS paper: N = patches, head per token)').default('macs');

export function buildProgram(program: Command): Command {
  program
    .name('vitas')
    .description('Neural architecture search for vision transformers (ViTAS) on TensorFlow.js')
    .version(VERSION)
    .showHelpAfterError();

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
    .option('--backend <name>', 'force a backend: node-gpu, node, wasm, cpu')
    .action(async (o: { config: string; epochs?: number; budget?: string; min?: string; data?: string; out?: string; resume?: boolean; backend?: string }) => {
      const info = await initBackend(o.backend);
      console.error(`backend: ${info.name}`);
      const signal = { stop: false };
      const onInt = (): void => {
        if (signal.stop) process.exit(130);
        signal.stop = true;
        console.error('\nstopping after this step and saving a checkpoint (Ctrl-C again to abort)…');
      };
      process.on('SIGINT', onInt);
      const progress = trainingProgress('supernet');
      try {
        const r = await runSupernetTraining({ config: o.config, ...pick(o, ['epochs', 'budget', 'min', 'data', 'out', 'resume']), events: progress, signal });
        progress.stop();
        if (r.result.stopped) {
          console.error(`saved ${r.result.checkpoint}; continue with --resume`);
          process.exitCode = 130;
          return;
        }
        console.log(markdownTable(['subnet', 'MACs', 'val top-1'], r.scores.map((s) => [s.name, formatMacs(s.macs), `${(100 * s.valAccuracy).toFixed(2)} %`]), ['left', 'right', 'right']));
        console.log(`supernet: ${r.out}/supernet.ckpt`);
      } finally {
        process.off('SIGINT', onInt);
      }
    });

  return program;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new VitasError(`${flag}: "${v}" must be a positive whole number`);
  return n;
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** Parse and run; one-line errors for bad input (exit 2), stack traces only for bugs (exit 1). */
export async function runCli(program: Command, argv: string[]): Promise<void> {
  try {
    await buildProgram(program).parseAsync(argv);
  } catch (e) {
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
