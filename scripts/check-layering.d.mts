// Types for scripts/check-layering.mjs, so TypeScript tests can import it.

export type Layer = 'engine' | 'shared' | 'main' | 'preload' | 'renderer';

export interface Violation {
  /** Path relative to the checked root, with forward slashes. */
  file: string;
  /** 1-based line of the offending specifier. */
  line: number;
  /** The importing file's layer ('src' or 'outside' for a file outside every layer). */
  layer: string;
  /** The module specifier as written ('' for a file outside every layer). */
  spec: string;
  /** Why the import is not allowed. */
  why: string;
}

export declare const LAYERS: readonly Layer[];
export declare function maskComments(source: string, options?: { html?: boolean }): string;
export declare function extractImports(source: string, options?: { html?: boolean }): { spec: string; line: number }[];
export declare function isNodeBuiltin(spec: string): boolean;
export declare function layerOf(srcDir: string, absPath: string): Layer | 'src' | 'outside';
export declare function ruleFor(layer: string, spec: string, target: string | null, file?: string): string | null;
/** Whether a file of src/main (path relative to src/, forward slashes) may import Electron. */
export declare function mainMayUseElectron(file: string): boolean;
export declare function checkLayering(root: string): { files: number; violations: Violation[] };
export declare function formatViolation(v: Violation): string;
export declare function main(argv?: string[]): number;
