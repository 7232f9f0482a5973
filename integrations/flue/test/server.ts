/**
 * vitest global setup: start `agent-sessions serve` (the README's local server) on a free
 * port with a fresh data directory, and hand its URL to the tests.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";

const ROOT = resolve(import.meta.dirname, "../../..");

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitUntilUp(url: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`agent-sessions did not start:\n${output()}`);
}

export default async function setup(project: TestProject): Promise<() => void> {
  const python = process.env.AGENT_SESSIONS_PYTHON ?? join(ROOT, ".venv", "bin", "python");
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), "agent-sessions-flue-"));
  const args = ["-m", "agent_sessions", "serve", "--no-auth", "--port", String(port)];
  const child = spawn(python, [...args, "--data-dir", data], { cwd: ROOT });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(url, () => output);
  project.provide("agentSessionsUrl", url);
  return () => {
    child.kill();
    rmSync(data, { recursive: true, force: true });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    agentSessionsUrl: string;
  }
}
