import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, friendlyMessage, tokens } from './api';

const user = { id: 'u1', email: 'a@example.com', name: 'A', roles: ['customer'], permissions: [] };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

async function failure(call: Promise<unknown>): Promise<ApiError> {
  try {
    await call;
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('expected the call to fail');
}

afterEach(() => {
  vi.unstubAllGlobals();
  tokens.signOut();
});

describe('api errors', () => {
  it('reads problem+json with field errors', async () => {
    vi.stubGlobal('fetch', async () =>
      json(422, { title: 'Unprocessable', detail: 'Invalid request: body.email', errors: [{ field: 'body.email', message: 'not an e-mail' }] }),
    );
    const error = await failure(api('/api/v1/auth/register', { method: 'POST', body: {} }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.fieldMessage('email')).toBe('not an e-mail');
    expect(error.retryable).toBe(false);
  });

  it('turns the gateway 429 into a friendly, retryable message with the wait', async () => {
    vi.stubGlobal('fetch', async () => json(429, { message: 'API rate limit exceeded' }, { 'Retry-After': '7' }));
    const error = await failure(api('/api/v1/products'));
    expect(error.retryable).toBe(true);
    expect(friendlyMessage(error)).toBe('Too many requests right now. Please wait 7 seconds and try again.');
  });

  it('calls a 503 and a network failure retryable and says so plainly', async () => {
    vi.stubGlobal('fetch', async () => new Response('', { status: 503 }));
    const unavailable = await failure(api('/api/v1/products'));
    expect(unavailable.retryable).toBe(true);
    expect(friendlyMessage(unavailable)).toBe('The shop is briefly unavailable. Please try again in a moment.');
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    const offline = await failure(api('/api/v1/products'));
    expect(offline.status).toBe(0);
    expect(offline.retryable).toBe(true);
  });
});

describe('api auth', () => {
  it('refreshes once on a 401 and retries with the new token', async () => {
    tokens.signIn({ access_token: 'old', refresh_token: 'r1', expires_in: 900, user });
    const seen: string[] = [];
    vi.stubGlobal('fetch', async (path: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).Authorization ?? '';
      seen.push(`${path} ${auth}`);
      if (path === '/api/v1/auth/refresh') {
        expect(init.body).toBeUndefined(); // the refresh token travels in the httpOnly cookie
        expect(new Headers(init.headers).get('X-Refresh-Cookie')).toBe('1');
        return json(200, { access_token: 'new', expires_in: 900, user });
      }
      return auth === 'Bearer new' ? json(200, { items: [] }) : json(401, { message: 'Unauthorized' });
    });
    expect(await api('/api/v1/me/addresses', { auth: true })).toEqual({ items: [] });
    expect(seen).toEqual(['/api/v1/me/addresses Bearer old', '/api/v1/auth/refresh ', '/api/v1/me/addresses Bearer new']);
  });

  it('signs out when the refresh token is refused', async () => {
    tokens.signIn({ access_token: 'old', refresh_token: 'r1', expires_in: 900, user });
    vi.stubGlobal('fetch', async () => json(401, { detail: 'refresh token revoked' }));
    const error = await failure(api('/api/v1/me', { auth: true }));
    expect(error.status).toBe(401);
    expect(tokens.session).toBeNull();
  });
});
