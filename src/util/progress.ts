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
}

export function startProgress(options: ProgressOptions): Progress {
  const { label, total } = options;
  if (options.silent || process.env.RLAIF_QUIET === '1') return { tick() {}, stop() {} };

  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(12)} {bar} {value}/{total} | {eta_formatted} left | {info}`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: '' });
    return {
      tick: (by = 1, info) => bar.increment(by, { info: formatInfo(info) }),
      stop: () => bar.stop(),
    };
  }

  let done = 0;
  let lastPrint = 0;
  const intervalMs = (options.interval ?? 5) * 1000;
  const started = Date.now();
  return {
    tick(by = 1, info) {
      done += by;
      const now = Date.now();
      if (now - lastPrint < intervalMs && done < total) return;
      lastPrint = now;
      const rate = done / Math.max((now - started) / 1000, 1e-9);
      process.stderr.write(
        `${label} ${done}/${total} (${rate.toFixed(1)}/s) ${formatInfo(info)}\n`,
      );
    },
    stop() {},
  };
}

function formatInfo(info?: Record<string, string | number>): string {
  if (!info) return '';
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(4) : v}`)
    .join(' ');
}
