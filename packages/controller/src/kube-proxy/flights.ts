// The requests a controller is carrying, so that it can stop without costing anyone a request: once it is
// draining, new requests are told to retry elsewhere, short ones in flight finish, and long-running ones
// (watches, log streams, exec) are ended so their clients reconnect, to another replica or to this one
// restarted. A watch ended cleanly is what kubectl and every informer already handle: the server's own
// watch timeout looks the same.

export interface Flight {
  /** A watch, log stream or upgraded session: ended on drain rather than waited for. */
  longRunning: boolean;
  /** Ends it now, saying why (recorded with the request). */
  stop(reason: string): void;
}

export const DRAINING_REASON = 'the controller is shutting down; reconnect to continue';

export class Flights {
  readonly #flights = new Set<Flight>();
  #draining = false;

  get draining(): boolean {
    return this.#draining;
  }

  /** Registers a request in flight; returns the function to call once it is over (its record included). */
  add(flight: Flight): () => void {
    this.#flights.add(flight);
    if (this.#draining && flight.longRunning) flight.stop(DRAINING_REASON);
    return () => this.#flights.delete(flight);
  }

  /**
   * Ends the long-running requests, waits up to `graceMs` for the rest, then ends whatever is left. From
   * now on, new requests should be refused (`draining`).
   */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    for (const f of this.#flights) if (f.longRunning) f.stop(DRAINING_REASON);
    const deadline = Date.now() + graceMs;
    while (this.#flights.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const f of this.#flights) f.stop('the controller shut down before this request finished');
  }
}
