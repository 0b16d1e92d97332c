/** Temporary directories for tests that need real files (SQLite databases, DATA_DIR). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

export async function makeTempDir(prefix = 'moongate-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A temp dir made before the tests of the enclosing file (or describe block) and removed
 * after them. Read `.path` inside hooks and tests, not while the suite is being collected.
 */
export function useTempDir(prefix?: string): { readonly path: string } {
  let dir: TempDir | undefined;
  beforeAll(async () => {
    dir = await makeTempDir(prefix);
  });
  afterAll(async () => {
    await dir?.remove();
  });
  return {
    get path(): string {
      if (dir === undefined) throw new Error('useTempDir: the temp dir exists only inside hooks and tests');
      return dir.path;
    },
  };
}
