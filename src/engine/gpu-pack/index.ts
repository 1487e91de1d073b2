// The GPU pack: ONNX Runtime's CUDA provider libraries, downloaded on demand (see gpu-pack.ts).
export * from './gpu-pack';
export { cudaMajorFromNeeded, cudnnMajorFromNeeded, readElfDynamic, type ElfDynamicInfo } from './elf';
export { DownloadError, type TransferProgress } from './http';
