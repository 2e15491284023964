// Which project the console opens on.

export const DEFAULT_PROJECT = 'desktop';

/** The remembered project if it still exists, else "desktop", else the first one the person can see. */
export function pickProject(names: readonly string[], remembered: string | undefined): string | undefined {
  if (remembered && names.includes(remembered)) return remembered;
  if (names.includes(DEFAULT_PROJECT)) return DEFAULT_PROJECT;
  return names[0];
}
