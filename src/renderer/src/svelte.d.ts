// Lets plain `tsc` type `.svelte` imports; the Svelte compiler checks the components themselves.
declare module '*.svelte' {
  import type { Component } from 'svelte';
  const component: Component;
  export default component;
}
