// The page's CSP has no 'unsafe-eval'. Zod 4 would otherwise probe `new Function` (a CSP
// violation report in the console) and compile object parsers with it. Its `jitless` flag is
// read when a schema is built, so main.ts imports this module before anything that defines one.
import { z } from 'zod';

z.config({ jitless: true });
