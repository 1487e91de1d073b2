// Which files the renderer may make the main process touch: exactly those the user chose in a
// native dialog (a chosen folder covers what is inside it), plus the app's own runs root and
// cache folder. Everything else is refused with a message that says so.
import path from 'node:path';
import type { PickKind } from '../../shared/api';

export class PathAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathAccessError';
  }
}

export interface PathGrantsOptions {
  /** The app's run folders live here (always allowed). */
  runsRoot: () => string;
  /** The cache folder in use (always allowed). */
  cacheDir: () => string;
  platform?: NodeJS.Platform;
}

/** Kinds whose chosen path is a folder (everything inside it is granted). */
const FOLDER_KINDS: ReadonlySet<PickKind> = new Set(['model-folder', 'run-folder', 'export-folder']);

export class PathGrants {
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();
  private readonly platform: NodeJS.Platform;

  constructor(private readonly options: PathGrantsOptions) {
    this.platform = options.platform ?? process.platform;
  }

  private get p(): typeof path.posix {
    return this.platform === 'win32' ? path.win32 : path.posix;
  }

  /** Normalized, comparable form (case-folded on Windows and macOS, whose file systems usually ignore case). */
  private key(p: string): string {
    const n = this.p.resolve(p);
    return this.platform === 'win32' || this.platform === 'darwin' ? n.toLowerCase() : n;
  }

  /** Records what the user chose in a dialog of `kind`. */
  grant(chosen: string, kind: PickKind): void {
    if (!this.p.isAbsolute(chosen)) throw new PathAccessError(`A dialog returned a relative path (${chosen}); it was not granted.`);
    (FOLDER_KINDS.has(kind) ? this.folders : this.files).add(this.key(chosen));
  }

  private inside(parentKey: string, childKey: string): boolean {
    const rel = this.p.relative(parentKey, childKey);
    return rel === '' || (!rel.startsWith('..') && !this.p.isAbsolute(rel));
  }

  /** Whether `target` may be used (see the file comment). */
  allows(target: string): boolean {
    if (typeof target !== 'string' || target === '' || target.includes('\0') || !this.p.isAbsolute(target)) return false;
    const k = this.key(target);
    if (this.files.has(k)) return true;
    for (const root of [...this.folders, this.key(this.options.runsRoot()), this.key(this.options.cacheDir())]) {
      if (this.inside(root, k)) return true;
    }
    return false;
  }

  /** Returns the normalized path, or throws PathAccessError naming `what`. */
  check(target: string, what = 'This path'): string {
    if (typeof target !== 'string' || target === '') throw new PathAccessError(`${what} is empty.`);
    if (target.includes('\0')) throw new PathAccessError(`${what} contains a NUL character.`);
    if (!this.p.isAbsolute(target)) throw new PathAccessError(`${what} (${target}) is not an absolute path; choose it with the dialog.`);
    if (!this.allows(target)) {
      throw new PathAccessError(`${what} (${target}) was not chosen in a dialog: choose it with the app's file dialog first (only chosen files and folders, the runs folder and the cache folder can be used).`);
    }
    return this.p.resolve(target);
  }
}
