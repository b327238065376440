/**
 * A real redis-server for the queue tests: VITAS_REDIS_URL when .ci/run started one, else our own
 * on a free loopback port from PATH; without one the tests are pending (outside CI) or fail (CI=true).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_HINT = 'redis-server not found: install it (apt-get install redis-server) or set VITAS_REDIS_URL=redis://127.0.0.1:PORT';

export interface TestRedis {
  /** the URL of database `db` (0–15) */
  url(db: number): string;
  /** empty database `db` */
  flush(db: number): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function ping(url: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      return;
    } catch (e) {
      r.disconnect();
      if (Date.now() - t0 > timeoutMs) throw new Error(`redis at ${url} did not answer: ${(e as Error).message}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}

/** Undefined when no redis-server can be had (and CI is not set). */
export async function testRedis(): Promise<TestRedis | undefined> {
  let base = process.env.VITAS_REDIS_URL;
  let server: ChildProcess | undefined;
  if (!base) {
    if (spawnSync('redis-server', ['--version']).error) {
      if (process.env.CI === 'true') throw new Error(`${REDIS_HINT} (CI=true: .ci/run should have started it)`);
      return undefined;
    }
    const port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    base = `redis://127.0.0.1:${port}`;
  }
  const url = (db: number): string => {
    const u = new URL(base);
    u.pathname = `/${db}`;
    return u.toString();
  };
  await ping(url(0), 10_000);
  return {
    url,
    async flush(db) {
      const r = new Redis(url(db));
      await r.flushdb();
      r.disconnect();
    },
    async stop() {
      if (!server) return;
      const exited = new Promise((res) => server!.once('exit', res));
      server.kill('SIGTERM');
      await exited;
    },
  };
}
