import { render } from 'preact';
import { App } from './app';
import { tokens } from './lib/api';
import './styles.css';

void tokens.restore(); // one cookie refresh: a reload keeps the shopper signed in
render(<App />, document.getElementById('app')!);
