import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Feeds a file's bytes into `hash` as a stream, so large inputs are never held in memory. */
export async function hashFileInto(hash: Hash, file: string): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

/** sha256 of a file's bytes, in hex. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(hash, file);
  return hash.digest('hex');
}
