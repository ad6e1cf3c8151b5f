/**
 * Re-ID data set readers (open-reid style).
 *
 * Two layouts are read:
 * - the Market-1501 layout (`bounding_box_train/`, `query/`, `bounding_box_test/`, file names
 *   parsed with {@link MARKET_NAME_PATTERN}), used for Market-1501, DukeMTMC-reID, CUHK03 and
 *   MSMT17 converted to it, and the synthetic domains;
 * - MSMT17_V1's own list files (`list_train.txt`, `list_val.txt`, `list_query.txt`,
 *   `list_gallery.txt`, lines `relative/path pid`, images under `train/` and `test/`).
 *
 * @module
 */

/** Joins path parts with single slashes. */
function join(...parts: string[]): string {
  return parts.join("/").replace(/\/{2,}/g, "/");
}

/** The last path component. */
function baseName(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() ?? path;
}

/** The extension with its dot (`.jpg`), or "". */
function extName(name: string): string {
  const b = baseName(name);
  const i = b.lastIndexOf(".");
  return i > 0 ? b.slice(i) : "";
}

/** The names of the files (and links) in `dir`; sub-folders are left out. */
function listFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => !e.isDirectory).map((e) => e.name);
}

/** One image of a split. */
export interface ReidItem {
  /** Full path of the image file. */
  path: string;
  /** Identity: relabelled 0..numTrainIds-1 in `train`; the original id in query/gallery (0 = distractor). */
  pid: number;
  /** Camera, 0-based. */
  cam: number;
  /** Position in its split (sorted by file name); for target training images, the memory index. */
  index: number;
}

/** The file-name pattern of the Market-1501 layout: `PPPP_cC...` (pid, 1-based camera). */
export const MARKET_NAME_PATTERN: RegExp = /([-\d]+)_c(\d+)/;

/** The image extensions read (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = [".jpg", ".jpeg", ".png", ".bmp"];

/** The three split folders of the Market-1501 layout. */
export const MARKET_SPLIT_DIRS: { train: string; query: string; gallery: string } = {
  train: "bounding_box_train",
  query: "query",
  gallery: "bounding_box_test",
};

/** Options of {@link loadReidDataset}. */
export interface LoadReidOptions {
  /** Name shown in the summary; default: the root folder's name. */
  name?: string;
  /** Skip (and count) file names that do not parse instead of failing. */
  skipUnparsable?: boolean;
  /** Do not give the summary table to `log`. */
  quiet?: boolean;
  /** Force a layout; default: "msmt-list" when `list_train.txt` exists, else "market". */
  layout?: "market" | "msmt-list";
  /**
   * Called with the summary table ({@link ReidDataset.summaryTable}) once the data set is read;
   * default: none (nothing is printed: the caller shows the summary if it wants).
   */
  log?: (line: string) => void;
}

/** A file that was skipped because its name did not parse. */
export interface SkippedFile {
  /** The split it belonged to. */
  split: "train" | "query" | "gallery";
  /** The file (or `list.txt:line` for a list entry). */
  path: string;
}

/**
 * A file in a data set folder that is not read (e.g. Windows' `Thumbs.db`, a `.txt` note), with
 * the reason; {@link ReidDataset.ignored} lists them so that callers can report them.
 */
export interface IgnoredFile {
  /** The split whose folder holds it (MSMT17 lists: "train" for train/, "gallery" for test/). */
  split: Split;
  /** The file. */
  path: string;
  /** Why it was not read. */
  reason: string;
}

/** One split of a re-ID data set. */
export type Split = "train" | "query" | "gallery";
const SPLITS = ["train", "query", "gallery"] as const satisfies readonly Split[];

/** A loaded re-ID data set: three splits, identities and cameras. */
export class ReidDataset {
  /** Display name. */
  readonly name: string;
  /** Root folder. */
  readonly root: string;
  /** Layout it was read from. */
  readonly layout: "market" | "msmt-list";
  /** Training images, pids relabelled 0..numTrainIds-1, `index` = memory index. */
  readonly train: ReidItem[];
  /** Query images (original pids). */
  readonly query: ReidItem[];
  /** Gallery images (original pids, 0 = distractor). */
  readonly gallery: ReidItem[];
  /** Number of training identities. */
  readonly numTrainIds: number;
  /** Number of cameras (largest 0-based camera over all splits, plus one). */
  readonly numCams: number;
  /** Files whose names did not parse (only with `skipUnparsable`). */
  readonly skipped: SkippedFile[];
  /** Files in the split folders that are not images of a readable type (not read). */
  readonly ignored: IgnoredFile[];
  /** Images dropped because their pid was -1 (junk), per split. */
  readonly junkDropped: Record<Split, number>;
  /** The original pid of each relabelled training identity. */
  readonly trainPidMap: number[];

  /** Builds a data set from already parsed splits; use {@link loadReidDataset} to read one. */
  constructor(init: {
    name: string;
    root: string;
    layout: "market" | "msmt-list";
    train: ReidItem[];
    query: ReidItem[];
    gallery: ReidItem[];
    numTrainIds: number;
    trainPidMap: number[];
    skipped?: SkippedFile[];
    ignored?: IgnoredFile[];
    junkDropped?: Record<Split, number>;
  }) {
    this.name = init.name;
    this.root = init.root;
    this.layout = init.layout;
    this.train = init.train;
    this.query = init.query;
    this.gallery = init.gallery;
    this.numTrainIds = init.numTrainIds;
    this.trainPidMap = init.trainPidMap;
    this.skipped = init.skipped ?? [];
    this.ignored = init.ignored ?? [];
    this.junkDropped = init.junkDropped ?? { train: 0, query: 0, gallery: 0 };
    let maxCam = -1;
    for (const items of [this.train, this.query, this.gallery]) {
      for (const it of items) if (it.cam > maxCam) maxCam = it.cam;
    }
    this.numCams = maxCam + 1;
  }

  /** The open-reid-style summary: subset | # ids | # images | # cameras. */
  summaryTable(): string {
    const row = (subset: string, items: ReidItem[]): string => {
      const ids = new Set(items.map((it) => it.pid)).size;
      const cams = new Set(items.map((it) => it.cam)).size;
      return `  ${subset.padEnd(8)} | ${String(ids).padStart(5)} | ${
        String(items.length).padStart(8)
      } | ${String(cams).padStart(9)}`;
    };
    const lines = [
      `${this.name} dataset loaded (${this.layout} layout, ${this.root})`,
      "  subset   | # ids | # images | # cameras",
      "  ---------------------------------------",
      row("train", this.train),
      row("query", this.query),
      row("gallery", this.gallery),
    ];
    if (this.skipped.length > 0) {
      lines.push(`  skipped ${this.skipped.length} file(s) whose names did not parse`);
    }
    if (this.ignored.length > 0) lines.push(`  ${describeIgnored(this.ignored)}`);
    const junk = this.junkDropped.train + this.junkDropped.query + this.junkDropped.gallery;
    if (junk > 0) lines.push(`  dropped ${junk} junk image(s) (pid -1)`);
    return lines.join("\n");
  }
}

function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extName(name).toLowerCase());
}

function notImageReason(name: string): string {
  const ext = extName(name);
  return `not an image file (${ext === "" ? "no extension" : `extension "${ext}"`}; ` +
    `read: ${IMAGE_EXTENSIONS.join(", ")})`;
}

/** "ignored 3 file(s) that are not images: 2 .db, 1 .txt (e.g. .../Thumbs.db)". */
export function describeIgnored(ignored: readonly IgnoredFile[]): string {
  const byExt = new Map<string, number>();
  for (const f of ignored) {
    const ext = extName(f.path).toLowerCase() || "(no extension)";
    byExt.set(ext, (byExt.get(ext) ?? 0) + 1);
  }
  const kinds = [...byExt].sort((a, b) => b[1] - a[1] || byName(a[0], b[0]))
    .map(([e, n]) => `${n} ${e}`).join(", ");
  return `ignored ${ignored.length} file(s) that are not images (${kinds}; read: ` +
    `${IMAGE_EXTENSIONS.join(", ")}), e.g. ${ignored[0]?.path}`;
}

function stemOf(name: string): string {
  const b = baseName(name);
  return b.slice(0, b.length - extName(b).length);
}

/** Code-point order: stable and locale-independent. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

const MARKET_LAYOUT_HELP =
  "expected the Market-1501 layout: ROOT/bounding_box_train/, ROOT/query/, " +
  "ROOT/bounding_box_test/ with images named PPPP_cC... (e.g. 0002_c1s1_000451_03.jpg), " +
  "or MSMT17_V1's ROOT/list_train.txt, list_val.txt, list_query.txt, list_gallery.txt with " +
  "ROOT/train/ and ROOT/test/";

/** A parsed file before relabelling. */
interface RawItem {
  path: string;
  name: string;
  pid: number;
  cam: number;
}

/**
 * Parses a Market-layout file name into pid and 0-based camera, or returns an error message.
 * Exported for the CamStyle and synthetic modules, which use the same convention.
 */
export function parseMarketName(name: string): { pid: number; cam: number } | string {
  const m = MARKET_NAME_PATTERN.exec(name);
  if (!m) return `"${name}" does not match ${MARKET_NAME_PATTERN}`;
  const pid = Number(m[1]);
  const cam = Number(m[2]);
  if (!Number.isInteger(pid) || pid < -1) {
    return `"${name}": pid "${m[1]}" is not an integer >= -1 (pattern ${MARKET_NAME_PATTERN})`;
  }
  if (cam < 1) return `"${name}": camera ${cam} must be 1-based (pattern ${MARKET_NAME_PATTERN})`;
  return { pid, cam: cam - 1 };
}

/**
 * Parses an MSMT17_V1 file name such as `0000_000_01_0303morning_0015_0.jpg` (fields: pid,
 * running number, 1-based camera, date+time of day, frame, index); a name holding `_cNN_`
 * (converted copies) is read from that part instead. Returns the 0-based camera or an error.
 */
export function parseMsmtCamera(name: string): number | string {
  const file = baseName(name);
  const c = /_c(\d+)_/.exec(file);
  const m = c ?? /^-?\d+_\d+_(\d+)_/.exec(file);
  if (!m) {
    return `"${name}" has neither a _cNN_ part nor the MSMT17_V1 form ` +
      `PPPP_NNN_CC_..., e.g. 0000_000_01_0303morning_0015_0.jpg`;
  }
  const cam = Number(m[1]);
  if (cam < 1) return `"${name}": camera ${cam} must be 1-based`;
  return cam - 1;
}

function checkDuplicates(items: RawItem[], where: string): void {
  const seen = new Map<string, string>();
  for (const it of items) {
    // CamStyle and caches key images by stem, so a.jpg and a.png would collide.
    const key = stemOf(it.name);
    const prev = seen.get(key);
    if (prev !== undefined) {
      throw new Error(`duplicate image name "${key}" in ${where}: ${prev} and ${it.path}`);
    }
    seen.set(key, it.path);
  }
}

function readMarketSplit(
  root: string,
  split: Split,
  opts: LoadReidOptions,
  skipped: SkippedFile[],
  ignored: IgnoredFile[],
): RawItem[] {
  const dir = join(root, MARKET_SPLIT_DIRS[split]);
  if (!isDir(dir)) throw new Error(`missing split folder ${dir}; ${MARKET_LAYOUT_HELP}`);
  const all = listFiles(dir).sort(byName);
  for (const name of all) {
    if (!isImage(name)) {
      ignored.push({ split, path: join(dir, name), reason: notImageReason(name) });
    }
  }
  const names = all.filter(isImage);
  const items: RawItem[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const parsed = parseMarketName(name);
    if (typeof parsed === "string") {
      if (opts.skipUnparsable) {
        skipped.push({ split, path });
        continue;
      }
      throw new Error(
        `cannot parse image name ${path}: ${parsed}; ` +
          `rename it or load with {skipUnparsable: true} to skip and count such files`,
      );
    }
    items.push({ path, name, pid: parsed.pid, cam: parsed.cam });
  }
  checkDuplicates(items, dir);
  return items;
}

/**
 * Lists every image under `dir` (recursively) as paths relative to it; other files go to
 * `ignored` (attributed to `split`).
 */
function listImagesRecursive(dir: string, split: Split, ignored: IgnoredFile[]): Set<string> {
  const out = new Set<string>();
  const walk = (rel: string): void => {
    const entries = [...Deno.readDirSync(rel === "" ? dir : join(dir, rel))]
      .sort((a, b) => byName(a.name, b.name));
    for (const entry of entries) {
      const r = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory) walk(r);
      else if (isImage(entry.name)) out.add(r);
      else ignored.push({ split, path: join(dir, r), reason: notImageReason(entry.name) });
    }
  };
  walk("");
  return out;
}

function readMsmtSplit(
  root: string,
  split: Split,
  opts: LoadReidOptions,
  skipped: SkippedFile[],
  files: { train: Set<string>; test: Set<string> },
): RawItem[] {
  // MSMT17_V1: the training set is list_train + list_val (32,621 images, as in the reference).
  const lists = split === "train"
    ? ["list_train.txt", "list_val.txt"]
    : split === "query"
    ? ["list_query.txt"]
    : ["list_gallery.txt"];
  const folder = split === "train" ? "train" : "test";
  const items: RawItem[] = [];
  const missing: string[] = [];
  for (const list of lists) {
    const listPath = join(root, list);
    let text: string;
    try {
      text = Deno.readTextFileSync(listPath);
    } catch (e) {
      if (list === "list_val.txt" && e instanceof Deno.errors.NotFound) continue;
      throw new Error(
        `cannot read list file ${listPath}: ${(e as Error).message}; ` +
          MARKET_LAYOUT_HELP,
      );
    }
    const lines = text.split(/\r?\n/);
    for (let ln = 0; ln < lines.length; ln++) {
      const line = lines[ln].trim();
      if (line === "") continue;
      const parts = line.split(/\s+/);
      const pid = Number(parts[1]);
      const cam = parts.length === 2 && Number.isInteger(pid) ? parseMsmtCamera(parts[0]) : -1;
      if (parts.length !== 2 || !Number.isInteger(pid) || typeof cam === "string") {
        const why = typeof cam === "string" ? cam : `expected "relative/path.jpg pid"`;
        if (opts.skipUnparsable) {
          skipped.push({ split, path: `${listPath}:${ln + 1}` });
          continue;
        }
        throw new Error(
          `cannot parse ${listPath} line ${ln + 1} "${line}": ${why}; ` +
            `load with {skipUnparsable: true} to skip and count such lines`,
        );
      }
      if (!files[folder].has(parts[0])) missing.push(parts[0]);
      items.push({ path: join(root, folder, parts[0]), name: parts[0], pid, cam });
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `${missing.length} image(s) listed for ${split} are missing under ${
        join(root, folder)
      }, e.g. ${missing.slice(0, 5).join(", ")}`,
    );
  }
  items.sort((a, b) => byName(a.name, b.name));
  const seen = new Set<string>();
  for (const it of items) {
    if (seen.has(it.name)) throw new Error(`duplicate entry ${it.name} in the ${split} lists`);
    seen.add(it.name);
  }
  checkDuplicates(items, `the ${split} lists of ${root}`);
  return items;
}

/**
 * Reads a re-ID data set from `root`; its summary (`summaryTable()`) goes to `log` when given.
 *
 * Rules (open-reid / ECN reference): pid -1 (junk) is dropped from every split; pid 0
 * (distractors) stays in query/gallery but is dropped from train in the Market layout; training
 * identities are relabelled 0..n-1 in sorted pid order; cameras are stored 0-based; every split's
 * `index` is its position in file-name order (the exemplar-memory index for target training).
 * In MSMT17_V1's list layout pid 0 is a real identity and is kept.
 */
export function loadReidDataset(root: string, opts: LoadReidOptions = {}): ReidDataset {
  if (!isDir(root)) throw new Error(`data set root ${root} does not exist; ${MARKET_LAYOUT_HELP}`);
  const layout = opts.layout ??
    (isDir(join(root, "train")) && statOk(join(root, "list_train.txt")) ? "msmt-list" : "market");
  const skipped: SkippedFile[] = [];
  const ignored: IgnoredFile[] = [];
  const raw = {} as Record<Split, RawItem[]>;
  if (layout === "market") {
    for (const s of SPLITS) raw[s] = readMarketSplit(root, s, opts, skipped, ignored);
  } else {
    for (const f of ["train", "test"]) {
      if (!isDir(join(root, f))) {
        throw new Error(`missing folder ${join(root, f)}; ${MARKET_LAYOUT_HELP}`);
      }
    }
    const files = {
      train: listImagesRecursive(join(root, "train"), "train", ignored),
      test: listImagesRecursive(join(root, "test"), "gallery", ignored),
    };
    for (const s of SPLITS) raw[s] = readMsmtSplit(root, s, opts, skipped, files);
  }

  const junkDropped: Record<Split, number> = { train: 0, query: 0, gallery: 0 };
  const kept = {} as Record<Split, RawItem[]>;
  for (const s of SPLITS) {
    kept[s] = raw[s].filter((it) => {
      const junk = it.pid === -1 || (s === "train" && layout === "market" && it.pid === 0);
      if (junk && it.pid === -1) junkDropped[s]++;
      return !junk;
    });
    if (kept[s].length === 0) {
      const where = layout === "market" ? join(root, MARKET_SPLIT_DIRS[s]) : `${root} (${s} lists)`;
      const ign = ignored.filter((f) => f.split === s);
      throw new Error(
        `split ${s} is empty: no usable images in ${where} ` +
          `(${raw[s].length} parsed, ${skipped.filter((k) => k.split === s).length} skipped` +
          `${ign.length > 0 ? `; ${describeIgnored(ign)}` : ""}); ` +
          MARKET_LAYOUT_HELP,
      );
    }
  }

  const trainPidMap = [...new Set(kept.train.map((it) => it.pid))].sort((a, b) => a - b);
  const relabel = new Map(trainPidMap.map((pid, i) => [pid, i]));
  const toItems = (items: RawItem[], re: boolean): ReidItem[] =>
    items.map((it, index) => ({
      path: it.path,
      pid: re ? relabel.get(it.pid)! : it.pid,
      cam: it.cam,
      index,
    }));

  const ds = new ReidDataset({
    name: opts.name ?? baseName(root),
    root,
    layout,
    train: toItems(kept.train, true),
    query: toItems(kept.query, false),
    gallery: toItems(kept.gallery, false),
    numTrainIds: trainPidMap.length,
    trainPidMap,
    skipped,
    ignored,
    junkDropped,
  });
  if (!opts.quiet && opts.log) opts.log(ds.summaryTable());
  return ds;
}

function statOk(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
