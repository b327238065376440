import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Repository root (tests run from dist/test). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixture = (name: string): string => join(ROOT, 'test', 'fixtures', name);
