import { describe, expect, it } from 'vitest';
import { RefreshRejected, TokenStore, type TokenResponse } from './tokens';

const user = { id: 'u1', email: 'a@example.com', name: 'A', roles: ['customer'], permissions: [] };

function tokens(n: number, expiresIn = 900): TokenResponse {
  return { access_token: `access-${n}`, expires_in: expiresIn, user };
}

/** A refresh endpoint we resolve by hand, so the test decides when the "network" answers. */
function manualRefresh() {
  const calls: { resolve: (t: TokenResponse) => void; reject: (e: unknown) => void }[] = [];
  const call = () => new Promise<TokenResponse>((resolve, reject) => calls.push({ resolve, reject }));
  return { calls, call };
}

describe('TokenStore', () => {
  it('sends one refresh for many concurrent callers and shares its result', async () => {
    const endpoint = manualRefresh();
    const store = new TokenStore(endpoint.call);
    store.signIn(tokens(1));
    const waiting = [store.refresh(), store.refresh(), store.refresh()];
    expect(endpoint.calls).toHaveLength(1);
    endpoint.calls[0].resolve(tokens(2));
    const sessions = await Promise.all(waiting);
    expect(sessions.map((s) => s?.accessToken)).toEqual(['access-2', 'access-2', 'access-2']);
    // once answered, the next refresh is a new request (the cookie has rotated meanwhile)
    const next = store.refresh();
    expect(endpoint.calls).toHaveLength(2);
    endpoint.calls[1].resolve(tokens(3));
    expect((await next)?.accessToken).toBe('access-3');
  });

  it('refreshes an access token that is about to expire before handing it out', async () => {
    let now = 1_000_000;
    const endpoint = manualRefresh();
    const store = new TokenStore(endpoint.call, () => now);
    store.signIn(tokens(1, 900));
    expect(await store.accessToken()).toBe('access-1');
    now += 880_000; // 20 s left: inside the early window
    const pending = [store.accessToken(), store.accessToken()];
    expect(endpoint.calls).toHaveLength(1);
    endpoint.calls[0].resolve(tokens(2));
    expect(await Promise.all(pending)).toEqual(['access-2', 'access-2']);
  });

  it('ends the session when identity refuses the refresh token', async () => {
    const endpoint = manualRefresh();
    const store = new TokenStore(endpoint.call);
    const seen: (string | null)[] = [];
    store.subscribe((s) => seen.push(s?.accessToken ?? null));
    store.signIn(tokens(1));
    const pending = store.refresh();
    endpoint.calls[0].reject(new RefreshRejected('revoked'));
    expect(await pending).toBeNull();
    expect(store.session).toBeNull();
    expect(seen).toEqual(['access-1', null]);
    expect(await store.accessToken()).toBeNull();
  });

  it('keeps the session on a transient failure so the user can retry', async () => {
    const endpoint = manualRefresh();
    const store = new TokenStore(endpoint.call);
    store.signIn(tokens(1));
    const pending = store.refresh();
    endpoint.calls[0].reject(new TypeError('Failed to fetch'));
    await expect(pending).rejects.toThrow('Failed to fetch');
    expect(store.session?.accessToken).toBe('access-1');
    const retry = store.refresh(); // a new attempt, not the failed promise
    expect(endpoint.calls).toHaveLength(2);
    endpoint.calls[1].resolve(tokens(2));
    expect((await retry)?.accessToken).toBe('access-2');
  });

  it('does not bring a session back when the user signed out during a refresh', async () => {
    const endpoint = manualRefresh();
    const store = new TokenStore(endpoint.call);
    store.signIn(tokens(1));
    const pending = store.refresh();
    store.signOut();
    endpoint.calls[0].resolve(tokens(2));
    expect(await pending).toBeNull();
    expect(store.session).toBeNull();
  });

  it('never touches web storage', async () => {
    const touched: string[] = [];
    const spy = new Proxy({}, { get: (_, key) => (touched.push(String(key)), () => null) });
    (globalThis as Record<string, unknown>).localStorage = spy;
    (globalThis as Record<string, unknown>).sessionStorage = spy;
    try {
      const endpoint = manualRefresh();
      const store = new TokenStore(endpoint.call);
      store.signIn(tokens(1));
      const pending = store.refresh();
      endpoint.calls[0].resolve(tokens(2));
      await pending;
      store.signOut();
      expect(touched).toEqual([]);
    } finally {
      delete (globalThis as Record<string, unknown>).localStorage;
      delete (globalThis as Record<string, unknown>).sessionStorage;
    }
  });

  it('restores the session at page load with one refresh shared by early callers', async () => {
    const endpoint = manualRefresh();
    const flags: boolean[] = [];
    const store = new TokenStore(endpoint.call, Date.now, { get: () => true, set: (v) => flags.push(v) });
    const restored = store.restore();
    expect(store.restoring).toBe(true);
    const early = [store.accessToken(), store.restore(), store.refresh()];
    expect(endpoint.calls).toHaveLength(1);
    endpoint.calls[0].resolve(tokens(7));
    expect((await restored)?.user.id).toBe('u1');
    expect(await early[0]).toBe('access-7');
    expect(store.restoring).toBe(false);
    expect(flags).toEqual([true]);
  });

  it('skips the page-load refresh when the browser holds no cookie hint', async () => {
    const endpoint = manualRefresh();
    const store = new TokenStore(endpoint.call, Date.now, { get: () => false, set: () => undefined });
    expect(await store.restore()).toBeNull();
    expect(endpoint.calls).toHaveLength(0);
    expect(await store.accessToken()).toBeNull();
  });

  it('ends a restore refused by identity signed out, and clears the hint', async () => {
    const endpoint = manualRefresh();
    const flags: boolean[] = [];
    const store = new TokenStore(endpoint.call, Date.now, { get: () => true, set: (v) => flags.push(v) });
    const restored = store.restore();
    endpoint.calls[0].reject(new RefreshRejected('no cookie'));
    expect(await restored).toBeNull();
    expect(store.session).toBeNull();
    expect(flags).toEqual([false]);
  });

  it('keeps no token in the session a script could read from it', () => {
    const store = new TokenStore(manualRefresh().call);
    const session = store.signIn({ ...tokens(1), refresh_token: 'from-an-old-server' });
    expect(JSON.stringify(session)).not.toContain('from-an-old-server');
  });
});
