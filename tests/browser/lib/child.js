// Helpers for the helper processes the tests start (SIP peers): wait for a condition with a cap,
// and stop a child of ours by its PID.

const POLL_MS = 50;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `condition()` (may be async) until it returns something truthy, which is returned; after
 * `timeoutMs` throws an error naming `what`, with `detail()`'s text (e.g. a log) appended.
 */
export async function waitUntil(condition, timeoutMs, what, detail = null) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    }
    await sleep(POLL_MS);
  }
}

/** Resolves once `child` has exited (at once if it already has). */
export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Resolves to true once `child` has exited, or to false after `timeoutMs` (leaving no timer behind). */
export function exitedWithin(child, timeoutMs) {
  let timer;
  return Promise.race([
    exited(child).then(() => true),
    new Promise((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Ends `child` (a process we spawned): SIGTERM to its PID, SIGKILL after `graceMs`; resolves
 * once it has exited.
 */
export async function stopChild(child, graceMs = 5_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}
