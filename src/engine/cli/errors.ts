// One line that tells a person what went wrong (never a stack trace).
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const sys = e as NodeJS.ErrnoException;
    if (sys.code === 'ENOENT' && sys.path) return `${sys.path} does not exist.`;
    if (sys.code === 'EACCES' && sys.path) return `Permission denied for ${sys.path}.`;
    if (sys.code === 'ENOSPC') return 'The disk is full: free some space and resume the run with --resume.';
    return (e.message || e.name).split('\n')[0].trim();
  }
  return String(e).split('\n')[0];
}
