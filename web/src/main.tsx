import { render } from 'preact';
import { App } from './app';
import { tokens } from './lib/api';
import { loadGuestCartAtStart } from './lib/cart';
import './styles.css';

void tokens.restore(); // one cookie refresh: a reload keeps the shopper signed in
loadGuestCartAtStart(); // and a guest their bag (after the restore, which may merge it)
render(<App />, document.getElementById('app')!);
