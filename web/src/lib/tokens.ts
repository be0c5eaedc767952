/**
 * The session: the access token lives in this module's memory only, and the refresh token in an
 * httpOnly, SameSite=Strict cookie identity sets (scoped to /api/v1/auth) that no script can read.
 * Nothing goes to localStorage or sessionStorage, so a script injected into the page cannot lift
 * a token from storage; a reload signs back in with one cookie refresh (restore()).
 *
 * Refresh tokens rotate on every use and identity revokes the whole session when a rotated one is
 * presented again, so two refreshes racing with the same cookie would sign the user out:
 * refreshing is single-flight — concurrent callers (and the page-load restore) share one request.
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
  refresh_token?: string; // only for clients that did not ask for the cookie
  user: User;
}

export interface Session {
  accessToken: string;
  accessExpiresAt: number; // epoch ms
  user: User;
}

/** Thrown by a RefreshCall when identity refused the refresh cookie (missing, expired, revoked). */
export class RefreshRejected extends Error {}

/** Asks identity for new tokens with the refresh cookie the browser holds. */
export type RefreshCall = () => Promise<TokenResponse>;
type Listener = (session: Session | null) => void;

/**
 * Whether this browser may hold a refresh cookie, so a page load of a signed-out visitor costs
 * no refresh call (the auth routes are rate limited per address). The hint is a plain flag, never
 * a credential: the cookie itself stays httpOnly.
 */
export interface SignedInHint {
  get(): boolean;
  set(signedIn: boolean): void;
}

export const noHint: SignedInHint = { get: () => true, set: () => undefined };

/** Refresh this long before the access token expires (clock skew, request time). */
const EARLY_MS = 30_000;

export class TokenStore {
  private current: Session | null = null;
  private inFlight: Promise<Session | null> | null = null;
  private listeners = new Set<Listener>();
  private restored = false;

  constructor(
    private readonly refreshCall: RefreshCall,
    private readonly now: () => number = Date.now,
    private readonly hint: SignedInHint = noHint,
  ) {}

  get session(): Session | null {
    return this.current;
  }

  /** True until the page-load restore has answered (pages that need a session wait for it). */
  get restoring(): boolean {
    return !this.restored && this.inFlight !== null;
  }

  isAdmin(): boolean {
    return this.current?.user.roles.includes('admin') ?? false;
  }

  signIn(tokens: TokenResponse): Session {
    this.hint.set(true);
    this.set({
      accessToken: tokens.access_token,
      accessExpiresAt: this.now() + tokens.expires_in * 1000,
      user: tokens.user,
    });
    return this.current!;
  }

  signOut(): void {
    this.hint.set(false);
    this.set(null);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A usable access token (refreshed first when it is about to expire), or null when signed out. */
  async accessToken(): Promise<string | null> {
    const s = this.current;
    if (!s) return this.inFlight ? ((await this.inFlight.catch(() => null))?.accessToken ?? null) : null;
    if (s.accessExpiresAt - EARLY_MS > this.now()) return s.accessToken;
    return (await this.refresh())?.accessToken ?? null;
  }

  /** Page load: sign back in with the refresh cookie, if the browser may hold one. Never rejects. */
  restore(): Promise<Session | null> {
    if (this.current || !this.hint.get()) {
      this.restored = true;
      return Promise.resolve(this.current);
    }
    return this.run(null)
      .catch(() => null) // offline at load: signed out for now, the cookie is still there
      .finally(() => {
        this.restored = true;
        this.set(this.current); // tell the pages waiting on `restoring`
      });
  }

  /**
   * One refresh at a time. A refused refresh ends the session (resolves null); a transient
   * failure (network, 503) keeps it and rejects, so the caller can offer a retry.
   */
  refresh(): Promise<Session | null> {
    if (this.inFlight) return this.inFlight;
    if (!this.current) return Promise.resolve(null);
    return this.run(this.current);
  }

  private run(started: Session | null): Promise<Session | null> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = this.refreshCall()
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

/** The hint as a first-party cookie holding "1" (no token), sent to nobody but this site. */
export const cookieHint: SignedInHint = {
  get: () => typeof document !== 'undefined' && /(?:^|;\s*)vanity_signed_in=1/.test(document.cookie),
  set: (signedIn) => {
    if (typeof document === 'undefined') return;
    const secure = location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = signedIn
      ? `vanity_signed_in=1; Path=/; Max-Age=2592000; SameSite=Strict${secure}`
      : `vanity_signed_in=; Path=/; Max-Age=0; SameSite=Strict${secure}`;
  },
};
