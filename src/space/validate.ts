/** ajv plumbing shared by the spec, space and search-definition schemas: one-line errors with JSON paths. */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { VitasError } from '../errors.js';

export const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, verbose: true, discriminator: true, useDefaults: false });

/** `/blocks/3/heads` → `blocks[3].heads` */
export function jsonPath(pointer: string): string {
  let out = '';
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

function describe(e: ErrorObject, data: unknown): { path: string; message: string } {
  const path = jsonPath(e.instancePath);
  const value = valueAt(data, e.instancePath);
  const shown = JSON.stringify(value);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: joinPath(path, String(p.additionalProperty)), message: `unknown field; allowed fields: ${allowedKeys(e).join(', ')}` };
    case 'required':
      return { path: joinPath(path, String(p.missingProperty)), message: 'is required' };
    case 'enum':
      return { path, message: `${shown} is not allowed; allowed: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { path, message: `${shown} is not allowed; must be ${JSON.stringify(p.allowedValue)}` };
    case 'type':
      return { path, message: `${shown} must be ${String(p.type)}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `${shown} ${e.message ?? ''}` };
    case 'discriminator':
      return { path: joinPath(path, String(p.tag)), message: `${JSON.stringify((value as Record<string, unknown> | undefined)?.[String(p.tag)])} is not allowed; ${e.message ?? ''}` };
    default:
      return { path, message: `${shown === undefined ? '' : shown + ' '}${e.message ?? 'is invalid'}` };
  }
}

function allowedKeys(e: ErrorObject): string[] {
  const schema = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
  return Object.keys(schema?.properties ?? {});
}

function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const part of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Run a compiled schema; throw one VitasError naming `where` (a file or label) and the JSON path. */
export function check<T>(validate: ValidateFunction, data: unknown, where: string): T {
  if (!validate(data)) {
    const e = validate.errors?.[0];
    if (!e) throw new VitasError(`${where}: invalid`);
    const d = describe(e, data);
    throw new VitasError(`${where}: ${d.path === '' ? '(root)' : d.path}: ${d.message}`);
  }
  return data as T;
}
