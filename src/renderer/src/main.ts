// Renderer entry: mounts the Svelte app. Runs in a sandboxed page; talks to the app only via window.api.
// First: configures zod before any schema (src/shared/job-config.ts) is built.
import './lib/zod-config';
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

export default mount(App, { target });
