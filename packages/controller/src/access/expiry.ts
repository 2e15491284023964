// Credentials end at a wall-clock time; what they opened must end with them, however far off that is.

/** setTimeout's longest wait (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once `expiresAt` (epoch ms) has passed by the wall clock, never synchronously; null never
 * expires. Returns the function that cancels it.
 */
export function atExpiry(expiresAt: number | null, fn: () => void): () => void {
  if (expiresAt === null) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const wait = Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS);
    // Re-checked when it fires: a long wait is cut into pieces, and the clocks may disagree by a tick.
    timer = setTimeout(() => (Date.now() >= expiresAt ? fn() : arm()), wait);
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
