/**
 * Every call goes to the same origin (the gateway serves this app at / and the API at /api/v1),
 * so there is no CORS and no base URL to configure. Errors become ApiError, whatever their shape:
 * the services answer RFC 9457 problem+json, the gateway Kong-style {"message": ...}.
 */
import { cookieHint, RefreshRejected, TokenStore, type TokenResponse } from './tokens';

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fieldErrors: FieldError[] = [],
    readonly retryAfterSeconds: number | null = null,
    readonly reason: string | null = null,
  ) {
    super(message);
  }

  /** Worth trying again as is: rate limited, or the shop (or the network) briefly unavailable. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 502;
  }

  /** The field's message, matched on its last path segment ("body.email" -> "email"). */
  fieldMessage(name: string): string | undefined {
    return this.fieldErrors.find((e) => e.field.split('.').pop() === name)?.message;
  }
}

/** What a shopper reads: honest, short, and never a stack trace. */
export function friendlyMessage(error: unknown): string {
  if (!(error instanceof ApiError)) return 'Something went wrong. Please try again.';
  if (error.status === 0) return 'We could not reach the shop. Check your connection and try again.';
  if (error.status === 429) {
    const wait = error.retryAfterSeconds;
    return wait
      ? `Too many requests right now. Please wait ${wait} second${wait === 1 ? '' : 's'} and try again.`
      : 'Too many requests right now. Please wait a moment and try again.';
  }
  if (error.status === 503 || error.status === 502 || error.status === 504)
    return 'The shop is briefly unavailable. Please try again in a moment.';
  if (error.status === 404) return 'We could not find that.';
  if (error.status === 401) return 'Please sign in to continue.';
  if (error.status === 403) return 'You are not allowed to do that.';
  return error.message || 'Something went wrong. Please try again.';
}

async function toApiError(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    /* an empty or non-JSON body: the status says enough */
  }
  const message =
    (typeof body.detail === 'string' && body.detail) ||
    (typeof body.message === 'string' && body.message) ||
    (typeof body.title === 'string' && body.title) ||
    response.statusText;
  const errors = Array.isArray(body.errors) ? (body.errors as FieldError[]) : [];
  const retryAfter = Number(response.headers.get('Retry-After'));
  return new ApiError(
    response.status,
    message,
    errors,
    Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : null,
    typeof body.reason === 'string' ? body.reason : null,
  );
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Send the access token (and refresh it once on a 401); 'optional': only when signed in. */
  auth?: boolean | 'optional';
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

async function send(path: string, options: RequestOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  // a Blob (an image upload) is sent as it is, with its own type; anything else as JSON
  const raw = typeof Blob !== 'undefined' && options.body instanceof Blob;
  if (options.body !== undefined) headers['Content-Type'] = raw ? (options.body as Blob).type || 'application/octet-stream' : 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : raw ? (options.body as Blob) : JSON.stringify(options.body),
      signal: options.signal,
      credentials: 'same-origin',
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'Network error');
  }
}

/** Identity reads and rotates the httpOnly cookie; the header is its CSRF guard (and asks for a new cookie). */
export const REFRESH_COOKIE_HEADERS = { 'X-Refresh-Cookie': '1' };

async function refreshCall(): Promise<TokenResponse> {
  const response = await send('/api/v1/auth/refresh', { method: 'POST', headers: REFRESH_COOKIE_HEADERS }, null);
  if (response.ok) return (await response.json()) as TokenResponse;
  const error = await toApiError(response);
  if (error.status === 400 || error.status === 401 || error.status === 403 || error.status === 422)
    throw new RefreshRejected(error.message);
  throw error;
}

export const tokens = new TokenStore(refreshCall, Date.now, cookieHint);

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const token = options.auth ? await tokens.accessToken() : null;
  if (options.auth === true && !token) throw new ApiError(401, 'Not signed in');
  let response = await send(path, options, token);
  if (response.status === 401 && token) {
    // The token may have been revoked or expired early: one refresh, one retry.
    const session = await tokens.refresh();
    if (!session) throw new ApiError(401, 'Your session has ended. Please sign in again.');
    response = await send(path, options, session.accessToken);
  }
  if (!response.ok) throw await toApiError(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}
