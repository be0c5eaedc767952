import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { BagButton } from './components/CartDrawer';
import { signOut } from './lib/auth';
import { Link, match, navigate, Redirect, useLocation } from './lib/router';
import { tokens } from './lib/api';
import { useSession } from './lib/session';
import { Loading } from './components/Status';
import { Addresses } from './pages/Addresses';
import { Admin } from './pages/Admin';
import { Challenge, Checkout, OrderPage, Orders } from './pages/Checkout';
import { Register, ResetConfirm, ResetRequest, SignIn } from './pages/Auth';
import { Home } from './pages/Home';
import { Listing } from './pages/Listing';
import { Product } from './pages/Product';

function Page({ path, search }: { path: string; search: string }) {
  const session = useSession();
  if (path === '/') return <Home />;
  if (path === '/products') return <Listing search={search} />;
  const product = match('/products/:slug', path);
  if (product) return <Product key={product.slug} slug={product.slug} search={search} />;
  if (path === '/signin') return <SignIn search={search} />;
  if (path === '/register') return <Register search={search} />;
  if (path === '/password-reset') return <ResetRequest />;
  // identity's e-mail links to /reset-password?token=… (IDENTITY_PASSWORD_RESET_URL)
  if (path === '/reset-password' || path === '/password-reset/confirm') return <ResetConfirm search={search} />;
  const signedIn = (page: () => JSX.Element) => {
    if (session) return page();
    if (tokens.restoring) return <Loading label="Signing you in…" />; // the page-load cookie refresh
    return <Redirect to={`/signin?next=${encodeURIComponent(path + search)}`} />;
  };
  if (path === '/account/addresses') return signedIn(() => <Addresses />);
  if (path === '/checkout') return signedIn(() => <Checkout />);
  if (path === '/checkout/authenticate') return signedIn(() => <Challenge search={search} />);
  if (path === '/orders') return signedIn(() => <Orders />);
  const order = match('/orders/:id', path);
  if (order) return signedIn(() => <OrderPage key={order.id} id={order.id} search={search} />);
  if (path === '/admin' || path.startsWith('/admin/')) {
    if (!session && tokens.restoring) return <Loading label="Signing you in…" />;
    return <Admin path={path} search={search} />;
  }
  return (
    <div class="status">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        <Link href="/">Back to the shop</Link>
      </p>
    </div>
  );
}

function Header() {
  const session = useSession();
  const [q, setQ] = useState('');
  return (
    <header class="site-header">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <div class="header-inner">
        <Link href="/" class="logo" aria-label="Vanity, home">
          Vanity
        </Link>
        <nav aria-label="Main" class="main-nav">
          <Link href="/products">Shop</Link>
          <Link href="/products?tag=new">New</Link>
          {session && (
            <Link href="/orders" data-testid="orders-link">
              Orders
            </Link>
          )}
          {session?.user.roles.includes('admin') && <Link href="/admin">Admin</Link>}
        </nav>
        <form
          class="header-search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(`/products${q.trim() ? `?q=${encodeURIComponent(q.trim())}` : ''}`);
          }}
        >
          <label for="site-search" class="visually-hidden">
            Search products
          </label>
          <input id="site-search" type="search" placeholder="Search" value={q} maxLength={200} onInput={(e) => setQ(e.currentTarget.value)} />
          <button type="submit" class="button secondary">
            Search
          </button>
        </form>
        <div class="account-nav">
          <BagButton />
          {session ? (
            <>
              <Link href="/account/addresses" data-testid="account-link">
                {session.user.name || session.user.email}
              </Link>
              <button
                type="button"
                class="button link"
                onClick={async () => {
                  await signOut();
                  navigate('/');
                }}
              >
                Sign out
              </button>
            </>
          ) : (
            <Link href="/signin">Sign in</Link>
          )}
        </div>
      </div>
    </header>
  );
}

export function App() {
  const { path, search } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    // A route change moves focus to the new page's heading, as a page load would for a screen reader.
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = main.current?.querySelector<HTMLElement>('h1');
    (heading ?? main.current)?.focus({ preventScroll: true });
    window.scrollTo(0, 0); // a new page starts at its top (filters on the same page keep their place)
  }, [path]);
  useEffect(() => {
    const h1 = main.current?.querySelector('h1')?.textContent;
    document.title = h1 ? `${h1} · Vanity` : 'Vanity';
  });
  return (
    <>
      <Header />
      <main id="main" ref={main} tabIndex={-1}>
        <Page path={path} search={search} />
      </main>
      <footer class="site-footer">
        <p>© Vanity. Prices include VAT.</p>
      </footer>
    </>
  );
}
