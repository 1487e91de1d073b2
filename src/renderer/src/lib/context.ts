// What App.svelte shares with every view through Svelte context: the API, the run store and
// navigation. Views read `rev` inside $derived/$effect to re-render when runs change (the store
// itself is a plain object; App bumps `rev` at most four times per second).
import { getContext, setContext } from 'svelte';
import type { DistillApi, Settings } from '../../../shared/api';
import type { UiStore } from './run-state';

export type RunTab = 'monitor' | 'compare' | 'export';

export interface AppContext {
  readonly api: DistillApi;
  readonly store: UiStore;
  /** Changes whenever the store changed (throttled). */
  readonly rev: number;
  readonly settings: Settings | null;
  /** The theme in effect, for charts that draw with theme colours. */
  readonly theme: 'light' | 'dark';
  openRun(runId: string, tab?: RunTab): void;
  newRun(): void;
  /** Loads a run's details (getRun) into the store; `force` reloads a run already loaded. */
  loadRun(runId: string, force?: boolean): Promise<void>;
  /** Re-reads the run list. */
  refreshRuns(): Promise<void>;
  updateSettings(patch: Partial<Settings>): Promise<Settings>;
  /** Redraw now instead of at the next throttled tick (after the user's own actions). */
  flush(): void;
}

/** Exported for component tests, which render views with a context of their own. */
export const APP_CONTEXT_KEY = Symbol('distill-studio-app');

export function setAppContext(ctx: AppContext): void {
  setContext(APP_CONTEXT_KEY, ctx);
}

export function useApp(): AppContext {
  const ctx = getContext<AppContext | undefined>(APP_CONTEXT_KEY);
  if (!ctx) throw new Error('useApp() outside the app');
  return ctx;
}
