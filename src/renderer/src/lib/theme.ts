// Light and dark themes: Settings.theme ('system' | 'light' | 'dark') on top of the system's
// prefers-color-scheme. The stylesheet keys its colours on <html data-theme="…">.
import type { Settings } from '../../../shared/api';

export type ThemeSetting = Settings['theme'];

/** The theme to show: the user's choice, or the system's when the choice is 'system'. */
export function resolveTheme(setting: ThemeSetting | null | undefined, systemPrefersDark: boolean): 'light' | 'dark' {
  if (setting === 'light' || setting === 'dark') return setting;
  return systemPrefersDark ? 'dark' : 'light';
}

/** Sets data-theme on the root element (an attribute, not inline style, so the strict CSP holds). */
export function applyTheme(root: { dataset: DOMStringMap }, theme: 'light' | 'dark'): void {
  root.dataset.theme = theme;
}
