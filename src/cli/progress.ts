import cliProgress from 'cli-progress';
import type { Progress } from '../context.js';

export interface ProgressReport {
  /** Give this to a service: it reports the rows done so far. */
  progress: Progress;
  /** Stops the bar (or writes the last log line); call it whether the work succeeded or not. */
  stop(): void;
}

/** Plain log lines at most this often when stderr is not a terminal. */
const LOG_EVERY_MS = 1000;

/**
 * Rows and rows/s of a long operation on stderr: a live bar on a terminal, plain lines otherwise
 * (logs of a job runner or CI must not fill with redraws). stdout stays for the result.
 */
export function progressReport(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressReport {
  const started = Date.now();
  let rows = 0;
  const rate = () => Math.round(rows / Math.max((Date.now() - started) / 1000, 0.001));
  if (stream.isTTY) {
    // The total is unknown while streaming, so the bar shows counts rather than a percentage.
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} | {value} rows | {rate} rows/s | {duration_formatted}`,
        stream,
        hideCursor: true,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(0, 0, { rate: 0 });
    return {
      progress(n) {
        rows = n;
        bar.update(n, { rate: rate() });
      },
      stop() {
        bar.update(rows, { rate: rate() });
        bar.stop();
      },
    };
  }
  let logged = started;
  let loggedRows = -1;
  const line = () => {
    logged = Date.now();
    loggedRows = rows;
    stream.write(`${label}: ${rows} rows, ${rate()} rows/s, ${((logged - started) / 1000).toFixed(1)} s\n`);
  };
  return {
    progress(n) {
      rows = n;
      if (Date.now() - logged >= LOG_EVERY_MS) line();
    },
    stop() {
      if (rows !== loggedRows && rows > 0) line();
    },
  };
}
