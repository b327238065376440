/** cli-progress bars for long work: steps with loss, img/s and ETA. When stderr is not a terminal (a log file), a line every tenth of an epoch instead. */
import cliProgress from 'cli-progress';
import { formatMacs, formatScore, type TrainEvents } from '../index.js';

const held: string[] = [];

/** Hold an info line (the backend) until the run prints something else, so a run that fails on bad input prints only its error. */
export function holdLine(m: string): void {
  held.push(m);
}

/** Print the held lines; called before any other stderr output of a run, and at its end. */
export function releaseHeld(): void {
  for (const m of held.splice(0)) console.error(m);
}

/** Forget the held lines: the run failed and its error is the one line to print. */
export function dropHeld(): void {
  held.length = 0;
}

/** One line on stderr, after the held ones. */
export function say(m: string): void {
  releaseHeld();
  console.error(m);
}

export function trainingProgress(label: string): TrainEvents & { stop(): void } {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | undefined;
  let epochs = 0;
  let rate = 0;
  let last = 0;
  let stepMs = 0;
  return {
    onStart(e) {
      epochs = e.epochs;
      if (!tty) return;
      releaseHeld();
      bar = new cliProgress.SingleBar(
        { format: `${label} epoch {epoch}/{epochs} |{bar}| {value}/{total} steps · loss {loss} · {rate} img/s · ETA {eta_formatted}`, stream: process.stderr, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      );
      bar.start(e.stepsPerEpoch, e.startStep, { epoch: e.startEpoch + 1, epochs, loss: '-', rate: '-' });
    },
    onStep(e) {
      rate = rate ? 0.9 * rate + 0.1 * e.imagesPerSecond : e.imagesPerSecond;
      const now = performance.now();
      if (last && e.step > 1) stepMs = stepMs ? 0.95 * stepMs + 0.05 * (now - last) : now - last;
      last = now;
      const every = Math.max(1, Math.floor(e.stepsPerEpoch / 10));
      if (!tty && e.step % every === 0 && e.step < e.stepsPerEpoch) {
        const eta = ((e.stepsPerEpoch - e.step) * stepMs) / 1000;
        say(`${label}: epoch ${e.epoch + 1}/${epochs} step ${e.step}/${e.stepsPerEpoch} · loss ${e.loss.toFixed(4)} · ${rate.toFixed(0)} img/s · epoch ETA ${Math.round(eta)} s`);
      }
      if (bar) {
        if (e.step === 1) bar.start(e.stepsPerEpoch, 0, { epoch: e.epoch + 1, epochs, loss: '-', rate: '-' });
        bar.update(e.step, { epoch: e.epoch + 1, epochs, loss: e.loss.toFixed(4), rate: rate.toFixed(0) });
      }
    },
    onEpoch(e) {
      bar?.stop();
      const val = e.val ? ` · val ${Object.entries(e.val).map(([k, v]) => `${k} ${(100 * v).toFixed(1)} %`).join(', ')}` : '';
      say(`${label}: epoch ${e.epoch}/${epochs} mean loss ${e.meanLoss.toFixed(4)} · ${e.seconds.toFixed(0)} s · ${(e.images / (e.trainSeconds || e.seconds)).toFixed(0)} img/s${val}`);
    },
    onLog(m) {
      if (bar) bar.stop();
      say(`${label}: ${m}`);
    },
    stop() {
      bar?.stop();
    },
  };
}

/** One bar over generations: best score, its cost, ETA. */
export function searchProgress(): { onGeneration(e: { generation: number; generations: number; best: { score: number; macs: number }; evaluated: number }): void; onLog(m: string): void; stop(): void } {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | undefined;
  return {
    onGeneration(e) {
      const payload = { best: formatScore(e.best.score), cost: formatMacs(e.best.macs), evaluated: e.evaluated };
      if (!tty) {
        say(`search: generation ${e.generation}/${e.generations} · best ${payload.best} at ${payload.cost} · ${e.evaluated} evaluated`);
        return;
      }
      if (!bar) {
        releaseHeld();
        bar = new cliProgress.SingleBar({ format: 'search |{bar}| generation {value}/{total} · best {best} at {cost} · {evaluated} evaluated · ETA {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic);
        bar.start(e.generations, 0, payload);
      }
      bar.update(e.generation, payload);
    },
    onLog(m) {
      say(`search: ${m}`);
    },
    stop() {
      bar?.stop();
    },
  };
}

/** First Ctrl-C asks the work to stop cleanly (it saves and returns); a second one aborts. */
export function stopOnInterrupt(message: string): { signal: { stop: boolean }; release(): void } {
  const signal = { stop: false };
  const onInt = (): void => {
    if (signal.stop) process.exit(130);
    signal.stop = true;
    say(`\n${message}`);
  };
  process.on('SIGINT', onInt);
  return { signal, release: () => void process.off('SIGINT', onInt) };
}
