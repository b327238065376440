import { existsSync } from 'node:fs';
import { readJson } from '../io.js';
import { VitasError } from '../errors.js';
import { presetSpace, SPACES } from './presets.js';
import { validateSpace, type SearchSpace } from './space.js';

/** A preset space by name, or a space JSON file. */
export function loadSpace(nameOrFile: string): SearchSpace {
  if (SPACES[nameOrFile]) return presetSpace(nameOrFile);
  if (nameOrFile.endsWith('.json') || existsSync(nameOrFile)) return validateSpace(readJson(nameOrFile, 'search space'), nameOrFile);
  throw new VitasError(`--space: "${nameOrFile}" is neither a preset (${Object.keys(SPACES).join(', ')}) nor a file`);
}
