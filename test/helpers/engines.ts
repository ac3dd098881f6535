import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Engine } from '../../src/db/engine.js';
import { createEngine } from '../../src/db/index.js';
import { createMigrator, migrateToLatest } from '../../src/db/migrator.js';
import type { Catalogue } from '../../src/tables/catalogue.js';

/**
 * The engines a test run covers, from TEST_ENGINES (default: sqlite), e.g.
 * `TEST_ENGINES=sqlite,mariadb,postgres`. Each entry knows how to make a fresh, empty database of its
 * own, so that test files and runs never collide. A server named in TEST_ENGINES that cannot be
 * reached fails the run (create() throws); it is never skipped.
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

export const MARIADB_SERVER = process.env.TEST_MARIADB_URL || 'mysql://root@127.0.0.1:3306/test';
export const POSTGRES_SERVER = process.env.TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** `dataport_t_<random>`: the prefix lets anyone find (and drop) what an interrupted run left. */
export function testDatabaseName(): string {
  return `dataport_t_${randomBytes(6).toString('hex')}`;
}

/** The server URL with another database as its path (the password, if any, kept). */
export function withDatabase(server: string, database: string): string {
  const url = new URL(server);
  url.pathname = `/${database}`;
  return url.href;
}

function unreachable(name: string, variable: string, server: string, err: unknown): Error {
  const safe = server.replace(/(\/\/[^/:@]*:)[^/?#]*@/, '$1***@');
  return new Error(
    `TEST_ENGINES includes ${name}, but its server ${safe} cannot be used (${(err as Error).message}); ` +
      `start it or point ${variable} at one`,
    { cause: err },
  );
}

async function mysqlAdmin(server: string) {
  const url = new URL(server);
  return mysql.createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1)) || undefined,
    connectTimeout: 5000,
  });
}

const mariadb: TestEngine = {
  name: 'mariadb',
  async create() {
    const name = testDatabaseName();
    let admin: mysql.Connection;
    try {
      admin = await mysqlAdmin(MARIADB_SERVER);
    } catch (e) {
      throw unreachable('mariadb', 'TEST_MARIADB_URL', MARIADB_SERVER, e);
    }
    try {
      await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
    } finally {
      await admin.end();
    }
    return {
      url: withDatabase(MARIADB_SERVER, name),
      async drop() {
        const conn = await mysqlAdmin(MARIADB_SERVER);
        try {
          await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
        } finally {
          await conn.end();
        }
      },
    };
  },
};

async function pgAdmin(server: string) {
  const client = new pg.Client({ connectionString: server, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

const postgres: TestEngine = {
  name: 'postgres',
  async create() {
    const name = testDatabaseName();
    let admin: pg.Client;
    try {
      admin = await pgAdmin(POSTGRES_SERVER);
    } catch (e) {
      throw unreachable('postgres', 'TEST_POSTGRES_URL', POSTGRES_SERVER, e);
    }
    try {
      await admin.query(`CREATE DATABASE "${name}" ENCODING 'UTF8' TEMPLATE template0`);
    } finally {
      await admin.end();
    }
    return {
      url: withDatabase(POSTGRES_SERVER, name),
      async drop() {
        const client = await pgAdmin(POSTGRES_SERVER);
        try {
          // FORCE (PostgreSQL 13+): a connection the test forgot to close must not keep the database alive.
          await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } finally {
          await client.end();
        }
      },
    };
  },
};

const registry: Record<string, TestEngine> = { sqlite, mariadb, postgres };

export function testEngines(): TestEngine[] {
  const names = (process.env.TEST_ENGINES ?? 'sqlite')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return names.map((name) => {
    const engine = registry[name];
    if (!engine)
      throw new Error(
        `TEST_ENGINES names unknown engine '${name}'; known: ${Object.keys(registry).join(', ')}`,
      );
    return engine;
  });
}

/**
 * A new database on `testEngine` with `catalogue`'s tables migrated, and an engine open on it;
 * `close()` closes the engine and drops the database.
 */
export async function openMigrated(
  testEngine: TestEngine,
  catalogue: Catalogue,
): Promise<{ engine: Engine; close(): Promise<void> }> {
  const database = await testEngine.create();
  const engine = await createEngine(database.url);
  try {
    await migrateToLatest(createMigrator(engine, catalogue));
  } catch (e) {
    await engine.close();
    await database.drop();
    throw e;
  }
  return {
    engine,
    async close() {
      await engine.close();
      await database.drop();
    },
  };
}
