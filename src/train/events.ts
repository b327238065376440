/** Progress events of a training run (the CLI's progress bars, the run folders' records, tests). */

export interface StartEvent {
  epochs: number;
  stepsPerEpoch: number;
  /** 0-based epoch and step the run starts at (a resume's checkpoint position) */
  startEpoch: number;
  startStep: number;
}

export interface StepEvent {
  /** 0-based epoch; `step` counts the epoch's steps done, this one included */
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  imagesPerSecond: number;
  lr: number;
}

export interface EpochRecord {
  /** 1-based */
  epoch: number;
  meanLoss: number;
  /** the epoch's wall time, with what a stopped run had spent on it before the stop */
  seconds: number;
  /** images trained on, and seconds spent in training steps, in this process (their ratio is the throughput) */
  images: number;
  trainSeconds?: number;
  /** validation top-1 of the watched subnets after this epoch (inherited weights), by name */
  val?: Record<string, number>;
}

/** `Start`: what a kind of run says when it starts (supernet training adds its identity probability, recipe and stages). */
export interface TrainEvents<Start extends StartEvent = StartEvent> {
  onStart?(e: Start): void;
  onStep?(e: StepEvent): void;
  onEpoch?(e: EpochRecord, history?: readonly EpochRecord[]): void;
  onLog?(message: string): void;
}
