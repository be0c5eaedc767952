import { describe, expect, it } from 'vitest';
import { PagedList, withCursor, type Page, type PagedSnapshot } from './paged';

/** A service answering from a list, `size` items a page, with string cursors (the offset). */
function service(all: number[], size: number) {
  const calls: (string | null)[] = [];
  const fetchPage = async (cursor: string | null): Promise<Page<number>> => {
    calls.push(cursor);
    const from = cursor === null ? 0 : Number(cursor);
    const items = all.slice(from, from + size);
    return { items, next_cursor: from + size < all.length ? String(from + size) : null };
  };
  return { calls, fetchPage };
}

/** A page that answers when told to. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('withCursor', () => {
  it('adds the cursor to the query the path already has, encoded', () => {
    expect(withCursor('/api/v1/admin/orders?limit=50', 'a+b/c')).toBe('/api/v1/admin/orders?limit=50&cursor=a%2Bb%2Fc');
    expect(withCursor('/api/v1/admin/brands', '7')).toBe('/api/v1/admin/brands?cursor=7');
    expect(withCursor('/api/v1/admin/brands', null)).toBe('/api/v1/admin/brands');
  });
});

describe('PagedList', () => {
  it('shows the first page, appends the next ones in order, and ends when the cursor does', async () => {
    const { calls, fetchPage } = service([1, 2, 3, 4, 5], 2);
    const seen: PagedSnapshot<number>[] = [];
    const list = new PagedList(fetchPage, (s) => seen.push(s));
    const first = list.start();
    expect(list.snapshot.status).toBe('loading');
    await first;
    expect(list.snapshot).toMatchObject({ status: 'ok', items: [1, 2], next: '2', more: 'idle' });
    const more = list.more();
    expect(list.snapshot.more).toBe('loading');
    await more;
    await list.more();
    expect(list.snapshot).toMatchObject({ items: [1, 2, 3, 4, 5], next: null, more: 'idle' });
    await list.more(); // nothing left: no call
    expect(calls).toEqual([null, '2', '4']);
    expect(seen.map((s) => s.status)).toContain('loading');
  });

  it('takes a list that comes whole (no next_cursor) and a numeric cursor', async () => {
    const whole = new PagedList(async () => ({ items: ['a', 'b'] }));
    await whole.start();
    expect(whole.snapshot).toMatchObject({ status: 'ok', items: ['a', 'b'], next: null });
    const numbered = new PagedList(async () => ({ items: [1], next_cursor: 42 }));
    await numbered.start();
    expect(numbered.snapshot.next).toBe('42');
  });

  it('reports a failed first page, and loads again on retry', async () => {
    let fail = true;
    const list = new PagedList(async () => {
      if (fail) throw new Error('503');
      return { items: [1] };
    });
    await list.start();
    expect(list.snapshot).toMatchObject({ status: 'error', items: [] });
    expect(list.snapshot.error).toBeInstanceOf(Error);
    fail = false;
    await list.start();
    expect(list.snapshot).toMatchObject({ status: 'ok', items: [1], error: null });
  });

  it('keeps the rows when "Show more" fails, and the same cursor for the retry', async () => {
    const calls: (string | null)[] = [];
    let failNext = true;
    const list = new PagedList<number>(async (cursor) => {
      calls.push(cursor);
      if (cursor === null) return { items: [1, 2], next_cursor: 'c2' };
      if (failNext) {
        failNext = false;
        throw new Error('network');
      }
      return { items: [3], next_cursor: null };
    });
    await list.start();
    await list.more();
    expect(list.snapshot).toMatchObject({ status: 'ok', items: [1, 2], next: 'c2', more: 'error' });
    await list.more();
    expect(list.snapshot).toMatchObject({ items: [1, 2, 3], next: null, more: 'idle', moreError: null });
    expect(calls).toEqual([null, 'c2', 'c2']);
  });

  it('asks for the next page once, however often "Show more" is pressed while it loads', async () => {
    const pending = deferred<Page<number>>();
    const calls: (string | null)[] = [];
    const list = new PagedList<number>((cursor) => {
      calls.push(cursor);
      return cursor === null ? Promise.resolve({ items: [1], next_cursor: 'n' }) : pending.promise;
    });
    await list.start();
    const a = list.more();
    const b = list.more();
    pending.resolve({ items: [2], next_cursor: null });
    await Promise.all([a, b]);
    expect(calls).toEqual([null, 'n']);
    expect(list.snapshot.items).toEqual([1, 2]);
  });

  it('drops an older answer that lands after a reload, and aborts its request', async () => {
    const slow = deferred<Page<string>>();
    const signals: AbortSignal[] = [];
    let call = 0;
    const list = new PagedList<string>((_cursor, signal) => {
      signals.push(signal);
      return call++ === 0 ? slow.promise : Promise.resolve({ items: ['new'] });
    });
    const old = list.start();
    await list.start(); // the filters changed: a new first page
    expect(signals[0].aborted).toBe(true);
    slow.resolve({ items: ['old'], next_cursor: 'x' });
    await old;
    expect(list.snapshot).toMatchObject({ status: 'ok', items: ['new'], next: null });
  });

  it('ignores a "Show more" answer from before a reload', async () => {
    const page2 = deferred<Page<string>>();
    let first = 0;
    const list = new PagedList<string>((cursor) =>
      cursor === null ? Promise.resolve({ items: [`first-${first++}`], next_cursor: 'p2' }) : page2.promise,
    );
    await list.start();
    const more = list.more();
    await list.start(); // e.g. a row was edited: the list starts over
    page2.resolve({ items: ['stale'], next_cursor: null });
    await more;
    expect(list.snapshot).toMatchObject({ items: ['first-1'], next: 'p2', more: 'idle' });
  });

  it('stops after dispose: in-flight answers are ignored and "Show more" does nothing', async () => {
    const pending = deferred<Page<number>>();
    const changes: PagedSnapshot<number>[] = [];
    const list = new PagedList<number>(() => pending.promise, (s) => changes.push(s));
    const started = list.start();
    list.dispose();
    pending.resolve({ items: [1], next_cursor: 'n' });
    await started;
    await list.more();
    expect(changes.map((s) => s.status)).toEqual(['loading']);
  });
});
