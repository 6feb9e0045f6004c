// What the e2e tests share: their environment, named steps and assertions.

/** An environment variable scripts/desktop-e2e.sh sets; throws when it is missing. */
export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run scripts/desktop-e2e.sh`);
  return v;
};

export const assert = (cond, msg) => {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
};

/** Runs named steps, printing `ok`/`FAIL` and the time of each; a failure is rethrown. */
export function steps() {
  const counts = { passed: 0, failed: 0 };
  const step = async (name, fn) => {
    const t0 = Date.now();
    try {
      await fn();
      counts.passed++;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      counts.failed++;
      console.log(`FAIL ${name}: ${e?.stack ?? e}`);
      throw e;
    }
  };
  return { step, counts };
}
