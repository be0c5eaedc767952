import { api, REFRESH_COOKIE_HEADERS, tokens } from './api';
import type { TokenResponse, User } from './tokens';

export async function signIn(email: string, password: string): Promise<User> {
  // The refresh token comes back as an httpOnly cookie, never in the body.
  const answer = await api<TokenResponse>('/api/v1/auth/login', {
    method: 'POST',
    body: { email, password },
    headers: REFRESH_COOKIE_HEADERS,
  });
  return tokens.signIn(answer).user;
}

export function register(email: string, name: string, password: string) {
  return api<{ user: User }>('/api/v1/auth/register', { method: 'POST', body: { email, name, password } });
}

/** Revokes the session at identity (which clears the cookie), then forgets it here whatever identity answered. */
export async function signOut(): Promise<void> {
  const session = tokens.session;
  tokens.signOut();
  if (!session) return;
  try {
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      headers: { ...REFRESH_COOKIE_HEADERS, Authorization: `Bearer ${session.accessToken}` },
      credentials: 'same-origin',
    });
  } catch {
    /* offline: the tokens are gone from this page; the refresh token expires on its own */
  }
}

export function requestPasswordReset(email: string) {
  return api<{ detail: string }>('/api/v1/auth/password-reset', { method: 'POST', body: { email } });
}

export function confirmPasswordReset(token: string, newPassword: string) {
  return api<void>('/api/v1/auth/password-reset/confirm', { method: 'POST', body: { token, new_password: newPassword } });
}

/** Only same-site paths after sign-in: never an open redirect to another origin. */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}
