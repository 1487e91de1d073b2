// Types for scripts/start.mjs, so TypeScript tests can import it.

export type ElectronStatus = { ok: true; executable: string } | { ok: false; reason: string };

export declare function electronPackageDir(): string;
export declare function electronStatus(dir?: string, env?: NodeJS.ProcessEnv): ElectronStatus;
export declare function firstErrorLine(stderr: string): string;
export declare function downloadHost(env?: NodeJS.ProcessEnv): string;
export declare function explainFailure(stderr: string, env?: NodeJS.ProcessEnv): Promise<string>;
export declare function main(argv?: string[]): Promise<number>;
