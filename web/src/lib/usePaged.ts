import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { emptySnapshot, PagedList, withCursor, type Page, type PagedSnapshot } from './paged';

export interface PagedView<T> extends PagedSnapshot<T> {
  loadMore: () => void;
  /** Loads the first page again (after an error, or after an edit changed the list). */
  retry: () => void;
}

/**
 * A signed-in cursor list at `path` (its query holds the filters; the cursor is added here).
 * A new `path` or `version` starts over; until its first answer the list shows as loading,
 * never the previous filter's rows.
 */
export function usePagedList<T>(path: string, version: number | string = 0): PagedView<T> {
  const key = `${version} ${path}`;
  const [state, setState] = useState<{ key: string; snapshot: PagedSnapshot<T> }>({ key, snapshot: emptySnapshot<T>() });
  const list = useRef<PagedList<T> | null>(null);
  useEffect(() => {
    const paged = new PagedList<T>(
      (cursor, signal) => api<Page<T>>(withCursor(path, cursor), { auth: true, signal }),
      (snapshot) => setState({ key, snapshot }),
    );
    list.current = paged;
    void paged.start();
    return () => paged.dispose();
  }, [key]);
  const snapshot = state.key === key ? state.snapshot : emptySnapshot<T>();
  return {
    ...snapshot,
    loadMore: () => void list.current?.more(),
    retry: () => void list.current?.start(),
  };
}
