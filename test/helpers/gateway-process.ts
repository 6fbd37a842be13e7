// `hookgate run` as a real subprocess (the built bin), for tests that SIGKILL a gateway. Resolves once
// the start line names the traffic and admin URLs; stdout is drained for the whole life of the child.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminUrl: string;
  /** every stdout line (pino JSON) */
  readonly lines: string[];
  /** SIGKILL, as an OOM kill or a node failure would; resolves when the process is gone */
  kill(): Promise<void>;
}

export function spawnGateway(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['bin/hookgate.js', 'run', '--config', configFile], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise<GatewayProcess>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error('gateway did not start within 20 s'))), 20_000);
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`gateway exited ${code} before it started`))));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const m = /"traffic":"([^"]+)","admin":"([^"]+)"/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        child, url: m[1]!, adminUrl: m[2]!, lines,
        kill: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}
