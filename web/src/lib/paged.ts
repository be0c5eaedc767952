/**
 * A list read page by page with the services' cursors (`{items, next_cursor}`; a list that comes
 * whole, like brands, simply has no `next_cursor`). "Show more" appends the next page, so an
 * admin reads in the order the service sorts.
 *
 * Framework-free so it can be tested without a DOM; `usePagedList` (usePaged.ts) binds it to a
 * component. Every (re)load starts a new generation: an answer of an older one (the filters
 * changed, the list was reloaded after an edit) is dropped, never shown over a newer one.
 */

export interface Page<T> {
  items: T[];
  /** Opaque; some services send a number. Absent or null: this was the last page. */
  next_cursor?: string | number | null;
}

export type FetchPage<T> = (cursor: string | null, signal: AbortSignal) => Promise<Page<T>>;

export interface PagedSnapshot<T> {
  /** The first page: loading, shown, or failed (then nothing is shown but the error). */
  status: 'loading' | 'ok' | 'error';
  error: unknown;
  items: T[];
  /** The cursor of the next page, null when everything is shown. */
  next: string | null;
  /** A "Show more" in flight, or the error of the last one (the items so far stay). */
  more: 'idle' | 'loading' | 'error';
  moreError: unknown;
}

export function emptySnapshot<T>(): PagedSnapshot<T> {
  return { status: 'loading', error: null, items: [], next: null, more: 'idle', moreError: null };
}

/** `path` with the cursor added to whatever query it already has. */
export function withCursor(path: string, cursor: string | null): string {
  if (cursor === null) return path;
  return `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`;
}

function nextOf(page: Page<unknown>): string | null {
  const next = page.next_cursor;
  return next === undefined || next === null || next === '' ? null : String(next);
}

export class PagedList<T> {
  private current: PagedSnapshot<T> = emptySnapshot<T>();
  private generation = 0;
  private controller: AbortController | null = null;

  constructor(
    private readonly fetchPage: FetchPage<T>,
    private readonly onChange: (snapshot: PagedSnapshot<T>) => void = () => undefined,
  ) {}

  get snapshot(): PagedSnapshot<T> {
    return this.current;
  }

  /** (Re)loads the first page, abandoning anything in flight. */
  start(): Promise<void> {
    const generation = this.begin();
    this.set(emptySnapshot<T>());
    const signal = this.controller!.signal;
    return this.fetchPage(null, signal).then(
      (page) => {
        if (generation !== this.generation) return;
        this.set({ ...emptySnapshot<T>(), status: 'ok', items: [...page.items], next: nextOf(page) });
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        this.set({ ...emptySnapshot<T>(), status: 'error', error });
      },
    );
  }

  /** Appends the next page; a no-op while one is loading or when there is none. */
  more(): Promise<void> {
    const { status, next, more } = this.current;
    if (!this.controller || status !== 'ok' || next === null || more === 'loading') return Promise.resolve();
    const generation = this.generation;
    this.set({ ...this.current, more: 'loading', moreError: null });
    return this.fetchPage(next, this.controller.signal).then(
      (page) => {
        if (generation !== this.generation) return;
        const items = [...this.current.items, ...page.items];
        this.set({ ...this.current, items, next: nextOf(page), more: 'idle', moreError: null });
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        this.set({ ...this.current, more: 'error', moreError: error }); // the next cursor stays: "Try again"
      },
    );
  }

  /** The component went away: abort what is in flight and ignore its answer. */
  dispose(): void {
    this.begin();
    this.controller = null;
  }

  private begin(): number {
    this.controller?.abort();
    this.controller = new AbortController();
    return ++this.generation;
  }

  private set(snapshot: PagedSnapshot<T>): void {
    this.current = snapshot;
    this.onChange(snapshot);
  }
}
