/** An error meant for a person: one line that names the input (file, JSON path or flag) and what is allowed. */
export class VitasError extends Error {
  override readonly name = 'VitasError';
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

/** Prefix a JSON path (`blocks[3].heads`) and, when known, the file it came from. */
export function at(where: string | undefined, path: string, message: string): VitasError {
  const loc = path === '' ? '(root)' : path;
  return new VitasError(where ? `${where}: ${loc}: ${message}` : `${loc}: ${message}`);
}
