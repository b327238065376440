/** Where the queue lives: a `redis://HOST:PORT[/DB]` URL, checked once, turned into BullMQ connection options. */
import { VitasError } from '../errors.js';

/** The BullMQ queue every vitas controller and worker shares (per Redis database). */
export const QUEUE_NAME = 'vitas';

export interface QueueConnection {
  host: string;
  port: number;
  db: number;
  password?: string;
  username?: string;
  /** ioredis retries commands forever while Redis is away, which BullMQ workers require */
  maxRetriesPerRequest: null;
}

/** Parse `--queue URL`; errors name the flag and say what is allowed. */
export function parseQueueUrl(url: string, flag = '--queue'): QueueConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new VitasError(`${flag}: "${url}" is not a URL; allowed: redis://HOST:PORT or redis://HOST:PORT/DB`);
  }
  if (u.protocol !== 'redis:') throw new VitasError(`${flag}: "${url}": scheme ${u.protocol} is not allowed; allowed: redis://HOST:PORT[/DB]`);
  if (!u.hostname) throw new VitasError(`${flag}: "${url}" names no host; allowed: redis://HOST:PORT[/DB]`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0) throw new VitasError(`${flag}: "${url}": database "${path}" must be a whole number ≥ 0`);
  const conn: QueueConnection = { host: u.hostname.replace(/^\[|\]$/g, ''), port, db, maxRetriesPerRequest: null };
  if (u.password) conn.password = decodeURIComponent(u.password);
  if (u.username) conn.username = decodeURIComponent(u.username);
  return conn;
}

/** The URL without its password, for messages. */
export function describeQueue(url: string): string {
  const c = parseQueueUrl(url);
  return `redis://${c.host}:${c.port}${c.db ? `/${c.db}` : ''}`;
}
