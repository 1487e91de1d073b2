// The part of yauzl 3.4's API that the checkpoint reader uses (yauzl ships no types; this
// keeps the project to one added package). If @types/yauzl is ever installed, delete this.
declare module 'yauzl' {
  import type { Readable } from 'node:stream';

  export interface Options {
    autoClose?: boolean;
    lazyEntries?: boolean;
    decodeStrings?: boolean;
    validateEntrySizes?: boolean;
    strictFileNames?: boolean;
  }

  export interface Entry {
    fileName: string;
    compressedSize: number;
    uncompressedSize: number;
    compressionMethod: number;
    isEncrypted(): boolean;
    canDecodeFileData(): boolean;
  }

  export interface ZipFile {
    entryCount: number;
    eachEntry(): AsyncIterableIterator<Entry>;
    openReadStreamPromise(entry: Entry, options?: { decodeFileData?: boolean; start?: number; end?: number }): Promise<Readable>;
    close(): void;
  }

  export function openPromise(path: string, options?: Options): Promise<ZipFile>;
  export function fromBufferPromise(buffer: Buffer, options?: Options): Promise<ZipFile>;

  const yauzl: {
    openPromise: typeof openPromise;
    fromBufferPromise: typeof fromBufferPromise;
  };
  export default yauzl;
}
