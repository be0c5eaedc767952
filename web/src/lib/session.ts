import { useEffect, useState } from 'preact/hooks';
import { tokens } from './api';
import type { Session } from './tokens';

export function useSession(): Session | null {
  const [session, setSession] = useState(tokens.session);
  useEffect(() => tokens.subscribe(setSession), []);
  return session;
}
