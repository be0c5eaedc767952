import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { cart, useCart } from '../lib/cart';
import { formatMoney } from '../lib/money';
import { Link } from '../lib/router';
import { ErrorState, Loading } from './Status';

/** Opens the bag from anywhere (the product page after "Add to bag"). */
export function openBag(): void {
  window.dispatchEvent(new Event('vanity:open-bag'));
}

export function BagButton() {
  const current = useCart();
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const show = () => setOpen(true);
    window.addEventListener('vanity:open-bag', show);
    return () => window.removeEventListener('vanity:open-bag', show);
  }, []);
  const count = current?.item_count ?? 0;
  return (
    <>
      <button
        ref={button}
        type="button"
        class="bag-button"
        aria-haspopup="dialog"
        aria-expanded={open}
        onClick={() => setOpen(true)}
        data-testid="bag-button"
      >
        Bag <span class="bag-count" aria-label={`${count} item${count === 1 ? '' : 's'}`}>{count}</span>
      </button>
      {open && (
        <CartDrawer
          onClose={() => {
            setOpen(false);
            button.current?.focus(); // back to where the shopper was
          }}
        />
      )}
    </>
  );
}

function CartDrawer({ onClose }: { onClose: () => void }) {
  const current = useCart();
  const [status, setStatus] = useState<'loading' | 'ok' | 'error'>(current ? 'ok' : 'loading');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const panel = useRef<HTMLDivElement>(null);
  const close = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const controller = new AbortController();
    cart.load(controller.signal).then(
      () => setStatus('ok'),
      (e) => {
        if (controller.signal.aborted) return;
        setError(e);
        setStatus('error');
      },
    );
    return () => controller.abort();
  }, [attempt]);

  // A layout effect: focus and the key handler are in place before the drawer is painted, so
  // an Escape pressed as soon as it shows closes it (a plain effect runs a frame later).
  useLayoutEffect(() => {
    close.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose();
      if (event.key !== 'Tab' || !panel.current) return;
      // keep Tab inside the dialog while it is open
      const focusable = panel.current.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), input:not([disabled])');
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);

  async function change(action: () => Promise<unknown>) {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="drawer-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="drawer" role="dialog" aria-modal="true" aria-labelledby="bag-title" ref={panel} data-testid="bag">
        <div class="drawer-head">
          <h2 id="bag-title">Your bag</h2>
          <button ref={close} type="button" class="button secondary" onClick={onClose}>
            Close
          </button>
        </div>
        {status === 'loading' && !current && <Loading label="Loading your bag…" />}
        {status === 'error' && !current && <ErrorState error={error} onRetry={() => setAttempt((n) => n + 1)} />}
        {current && status !== 'error' && error !== null && <ErrorState error={error} />}
        {current && current.lines.length === 0 && <p class="status status-empty">Your bag is empty.</p>}
        {current && current.lines.length > 0 && (
          <>
            {current.locked && (
              <p class="hint" role="status" data-testid="bag-locked">
                A checkout of this bag is in progress: it can be changed again once that ends.
              </p>
            )}
            <ul class="bag-lines" aria-busy={busy}>
              {current.lines.map((line) => (
                <li key={line.sku} class="bag-line" data-testid="bag-line">
                  <div>
                    <Link href={`/products/${line.product_slug}?sku=${encodeURIComponent(line.sku)}`} onClick={onClose} class="product-name">
                      {line.name}
                    </Link>
                    <span class="product-brand">{line.brand}</span>
                    <span class="variant">{line.variant_name}</span>
                    {line.availability?.short && <span class="field-error">Only {line.availability.buyable_quantity} available</span>}
                  </div>
                  <div class="qty" role="group" aria-label={`Quantity of ${line.name}, ${line.variant_name}`}>
                    <button
                      type="button"
                      class="button secondary small"
                      aria-label="One fewer"
                      disabled={busy || current.locked}
                      onClick={() => change(() => (line.quantity > 1 ? cart.setQuantity(line.sku, line.quantity - 1) : cart.remove(line.sku)))}
                    >
                      −
                    </button>
                    <span aria-live="polite">{line.quantity}</span>
                    <button
                      type="button"
                      class="button secondary small"
                      aria-label="One more"
                      disabled={busy || current.locked || line.quantity >= current.limits.max_quantity_per_line}
                      onClick={() => change(() => cart.setQuantity(line.sku, line.quantity + 1))}
                    >
                      +
                    </button>
                  </div>
                  <span class="line-total">{line.line_total ? formatMoney(line.line_total) : '—'}</span>
                  <button type="button" class="button link" disabled={busy || current.locked} onClick={() => change(() => cart.remove(line.sku))} aria-label={`Remove ${line.name}, ${line.variant_name}`}>
                    Remove
                  </button>
                </li>
              ))}
            </ul>
            <p class="subtotal">
              Subtotal <strong data-testid="bag-subtotal">{current.subtotal ? formatMoney(current.subtotal) : '—'}</strong>
            </p>
            <Link href="/checkout" class="button checkout-link" onClick={onClose} data-testid="bag-checkout">
              Checkout
            </Link>
          </>
        )}
      </div>
    </div>
  );
}
