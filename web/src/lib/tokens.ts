/**
 * The session lives in this module's memory only: nothing in localStorage, sessionStorage or a
 * JavaScript-readable cookie, so a script injected into the page cannot lift a token from storage,
 * and a reload signs the shopper out until identity sets the refresh token as an httpOnly cookie.
 *
 * Refresh tokens rotate on every use and identity revokes the whole session when a rotated one is
 * presented again, so two refreshes racing with the same token would sign the user out: refresh()
 * is single-flight — concurrent callers share one request.
 */
export interface User {
  id: string;
  email: string;
  name: string;
  roles: string[];
  permissions: string[];
}

export interface TokenResponse {
  access_token: string;
  expires_in: number; // seconds
  refresh_token: string;
  user: User;
}

export interface Session {
  accessToken: string;
  accessExpiresAt: number; // epoch ms
  refreshToken: string;
  user: User;
}

/** Thrown by a RefreshCall when identity refused the refresh token (expired, revoked, reused). */
export class RefreshRejected extends Error {}

export type RefreshCall = (refreshToken: string) => Promise<TokenResponse>;
type Listener = (session: Session | null) => void;

/** Refresh this long before the access token expires (clock skew, request time). */
const EARLY_MS = 30_000;

export class TokenStore {
  private current: Session | null = null;
  private inFlight: Promise<Session | null> | null = null;
  private listeners = new Set<Listener>();

  constructor(
    private readonly refreshCall: RefreshCall,
    private readonly now: () => number = Date.now,
  ) {}

  get session(): Session | null {
    return this.current;
  }

  isAdmin(): boolean {
    return this.current?.user.roles.includes('admin') ?? false;
  }

  signIn(tokens: TokenResponse): Session {
    this.set({
      accessToken: tokens.access_token,
      accessExpiresAt: this.now() + tokens.expires_in * 1000,
      refreshToken: tokens.refresh_token,
      user: tokens.user,
    });
    return this.current!;
  }

  signOut(): void {
    this.set(null);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A usable access token (refreshed first when it is about to expire), or null when signed out. */
  async accessToken(): Promise<string | null> {
    const s = this.current;
    if (!s) return null;
    if (s.accessExpiresAt - EARLY_MS > this.now()) return s.accessToken;
    return (await this.refresh())?.accessToken ?? null;
  }

  /**
   * One refresh at a time. A refused refresh token ends the session (resolves null); a transient
   * failure (network, 503) keeps it and rejects, so the caller can offer a retry.
   */
  refresh(): Promise<Session | null> {
    if (this.inFlight) return this.inFlight;
    const started = this.current;
    if (!started) return Promise.resolve(null);
    this.inFlight = this.refreshCall(started.refreshToken)
      .then((tokens) => {
        // Signed out (or signed in as someone else) meanwhile: do not resurrect the old session.
        if (this.current !== started) return this.current;
        return this.signIn(tokens);
      })
      .catch((error: unknown) => {
        if (error instanceof RefreshRejected) {
          if (this.current === started) this.signOut();
          return null;
        }
        throw error;
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  private set(session: Session | null): void {
    this.current = session;
    for (const listener of this.listeners) listener(session);
  }
}
