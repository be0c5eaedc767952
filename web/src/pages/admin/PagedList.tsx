import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { Empty, ErrorState, Loading } from '../../components/Status';
import type { PagedView } from '../../lib/usePaged';
import { Refusable, Table } from './common';

export { usePagedList } from '../../lib/usePaged';

interface PagedListProps<T> {
  /** From `usePagedList(path, version)`: the caller keeps it to reload after an edit. */
  list: PagedView<T>;
  /** The table's region name (what a screen reader announces and tests find it by). */
  label: string;
  caption: string;
  /** What the rows are, singular and plural: "Showing 50 orders". */
  noun: readonly [string, string];
  loading: string;
  empty: ComponentChildren;
  /** The header row's cells. */
  head: ComponentChildren;
  /** One <tr> per item. */
  row: (item: T) => ComponentChildren;
  /** An order other than the service's (the category tree), applied to the rows shown. */
  arrange?: (items: T[]) => T[];
  bodyTestId?: string;
}

/**
 * Every admin list: loading, refused (403) or failed with "Try again", empty, or the table with
 * its count and "Show more" (cursor pages appended in the service's order).
 */
export function PagedList<T>({ list, label, caption, noun, loading, empty, head, row, arrange, bodyTestId }: PagedListProps<T>) {
  const wrap = useRef<HTMLDivElement>(null);
  const wasLoadingMore = useRef(false);
  useEffect(() => {
    // The last page removed the "Show more" button that had focus: keep the keyboard user in the
    // table rather than dropped at the top of the document.
    const gone = !document.activeElement || document.activeElement === document.body;
    if (wasLoadingMore.current && list.more === 'idle' && list.next === null && gone) wrap.current?.focus();
    wasLoadingMore.current = list.more === 'loading';
  }, [list.more, list.next]);

  if (list.status === 'loading') return <Loading label={loading} />;
  if (list.status === 'error') return <Refusable error={list.error} retry={list.retry} />;
  if (!list.items.length) return <Empty>{empty}</Empty>;
  const items = arrange ? arrange(list.items) : list.items;
  const count = list.items.length;
  return (
    <>
      <Table label={label} caption={caption} wrapRef={wrap}>
        <thead>{head}</thead>
        <tbody data-testid={bodyTestId}>{items.map(row)}</tbody>
      </Table>
      <p class="hint list-count" aria-live="polite" data-testid={`${bodyTestId ?? label.toLowerCase().replace(/\W+/g, '-')}-count`}>
        Showing {count} {count === 1 ? noun[0] : noun[1]}
        {list.next ? '; more to show' : ''}.
      </p>
      {list.more === 'error' && <ErrorState error={list.moreError} onRetry={list.loadMore} title="The next page did not load." />}
      {list.next && list.more !== 'error' && (
        <p class="pager">
          <button type="button" class="button secondary" disabled={list.more === 'loading'} aria-busy={list.more === 'loading'} onClick={list.loadMore}>
            {list.more === 'loading' ? 'Loading…' : 'Show more'}
          </button>
        </p>
      )}
    </>
  );
}
