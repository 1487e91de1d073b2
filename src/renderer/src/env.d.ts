// Ambient types for the renderer.
import type { DistillApi } from '../../shared/api';

declare global {
  interface Window {
    /** Exposed by src/preload/index.ts through contextBridge. */
    readonly api: DistillApi;
  }
}

export {};
