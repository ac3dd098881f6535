import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The engines a test run covers, from TEST_ENGINES (default: sqlite). Each entry knows how to make a
 * fresh, empty database of its own, so that test files and runs never collide.
 */
export interface TestEngine {
  name: 'sqlite' | 'mariadb' | 'postgres';
  /** A DATABASE_URL for a new empty database; `drop` removes it afterwards. */
  create(): Promise<{ url: string; drop(): Promise<void> }>;
}

const sqlite: TestEngine = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(path.join(tmpdir(), 'dataport-test-'));
    return { url: `sqlite:${path.join(dir, 'test.sqlite')}`, drop: async () => undefined };
  },
};

const registry: Record<string, TestEngine> = { sqlite };

export function testEngines(): TestEngine[] {
  const names = (process.env.TEST_ENGINES ?? 'sqlite').split(',').map((s) => s.trim()).filter(Boolean);
  return names.map((name) => {
    const engine = registry[name];
    if (!engine) throw new Error(`TEST_ENGINES names unknown engine '${name}'; known: ${Object.keys(registry).join(', ')}`);
    return engine;
  });
}
