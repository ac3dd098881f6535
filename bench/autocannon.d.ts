// autocannon ships no types; only what bench/child-runner.ts uses.
declare module 'autocannon' {
  export interface Result {
    '2xx': number;
    non2xx: number;
    errors: number;
    timeouts: number;
  }
  export interface Tracker {
    on(event: 'response', listener: () => void): Tracker;
  }
  export default function autocannon(
    options: Record<string, unknown>,
    done: (err: Error | null, result: Result) => void,
  ): Tracker;
}
