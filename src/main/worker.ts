// Job worker entry point, built as its own file (out/main/worker.js). Training jobs will run here,
// in a separate process, so the window stays responsive. For now it only reports that it started.
console.log(`[worker] Distill Studio job worker started (pid ${process.pid}); no job runner yet, exiting.`);
process.exit(0);
