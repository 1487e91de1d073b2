// Types for build/make-icons.mjs, so TypeScript tests can import it.
export declare function renderIcon(size: number): Buffer;
export declare function crc32(buf: Uint8Array): number;
export declare function encodePng(size: number, rgba: Buffer): Buffer;
export declare function encodeIco(images: { size: number; rgba: Buffer }[]): Buffer;
export declare const ICNS_TYPES: [type: string, size: number][];
export declare function encodeIcns(png: (size: number) => Buffer): Buffer;
export declare const LINUX_SIZES: number[];
export declare const ICO_SIZES: number[];
export declare function writeIcons(dir?: string): string[];
