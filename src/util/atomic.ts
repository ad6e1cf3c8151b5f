/**
 * Atomic file replacement: a reader (or a crash) sees either the old file or the
 * complete new one, never a half-written one.
 *
 * @module
 */

/** What {@link writeFileAtomic} writes: bytes, or chunks produced in order. */
export type AtomicContent =
  | Uint8Array
  | Iterable<Uint8Array>
  | AsyncIterable<Uint8Array>;

/**
 * Writes `content` to a temporary file next to `path`, flushes it to disk, then renames
 * it over `path`. If anything fails (including the chunk iterator throwing) the
 * temporary file is removed and `path` keeps its old contents.
 */
export async function writeFileAtomic(path: string, content: AtomicContent): Promise<void> {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = cut < 0 ? "." : cut === 0 ? path[0] : path.slice(0, cut);
  // Same directory, so the rename never crosses file systems.
  const tmp = `${path.slice(0, cut + 1)}.${path.slice(cut + 1)}.tmp-${Deno.pid}-` +
    crypto.randomUUID().slice(0, 8);
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    if (content instanceof Uint8Array) {
      await writeAll(file, content);
    } else {
      for await (const chunk of content) await writeAll(file, chunk);
    }
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`writing ${path} failed (old contents kept): ${(e as Error).message}`, {
      cause: e,
    });
  }
  await syncDir(dir);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

/** Makes the rename itself durable; some platforms cannot open directories, which is fine. */
async function syncDir(dir: string): Promise<void> {
  let d: Deno.FsFile | undefined;
  try {
    d = await Deno.open(dir, { read: true });
    await d.sync();
  } catch {
    /* best effort */
  } finally {
    d?.close();
  }
}
