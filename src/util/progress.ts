/**
 * Progress for long jobs on stderr: a live bar on a terminal, a plain line every few seconds
 * otherwise (CI logs, pipes), nothing when silenced.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  tick(by?: number, info?: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Seconds between plain lines when stderr is not a terminal. */
  interval?: number;
  silent?: boolean;
  /** Units already done before this process started (a resumed job); default 0. */
  start?: number;
  /** Clock in ms (tests); default Date.now. */
  now?: () => number;
}

export function startProgress(options: ProgressOptions): Progress {
  const { label, total } = options;
  if (options.silent || process.env.RLAIF_QUIET === '1') return { tick() {}, stop() {} };

  const clock = options.now ?? Date.now;
  const first = options.start ?? 0;
  const started = clock();
  let done = first;

  if (process.stderr.isTTY) {
    // Our own ETA from the units done in this process: cli-progress's counts resumed units.
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(12)} {bar} {value}/{total} | {left}{info}`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, first, { info: '', left: '' });
    return {
      tick: (by = 1, info) => {
        done += by;
        const eta = etaSeconds(total - done, done - first, clock() - started);
        const left = eta === undefined ? '' : `${eta.toFixed(0)}s left | `;
        bar.increment(by, { info: formatInfo(info), left });
      },
      stop: () => bar.stop(),
    };
  }

  let lastPrint = 0;
  const intervalMs = (options.interval ?? 5) * 1000;
  return {
    tick(by = 1, info) {
      done += by;
      const now = clock();
      if (now - lastPrint < intervalMs && done < total) return;
      lastPrint = now;
      const rate = ratePerSecond(done - first, now - started);
      const shown = rate === undefined ? '' : ` (${rate.toFixed(1)}/s)`;
      process.stderr.write(`${label} ${done}/${total}${shown} ${formatInfo(info)}\n`);
    },
    stop() {},
  };
}

/** Units per second over this process's work; undefined until there is some to measure. */
export function ratePerSecond(doneHere: number, elapsedMs: number): number | undefined {
  if (doneHere <= 0 || elapsedMs <= 0) return undefined;
  return doneHere / (elapsedMs / 1000);
}

/** Seconds left at this process's rate; undefined until known. */
export function etaSeconds(remaining: number, doneHere: number, elapsedMs: number): number | undefined {
  const rate = ratePerSecond(doneHere, elapsedMs);
  return rate === undefined ? undefined : Math.max(0, remaining) / rate;
}

/** `key=value` pairs; values that are not finite numbers (a metric a trainer lacks) are left out. */
export function formatInfo(info?: Record<string, string | number>): string {
  if (!info) return '';
  return Object.entries(info)
    .filter(([, v]) => typeof v !== 'number' || Number.isFinite(v))
    .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(4) : v}`)
    .join(' ');
}
