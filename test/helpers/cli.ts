// Runs the CLI in-process with captured output.
import { cli, type Io } from '../../src/cli/main.js';

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = {}, stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s), env, stdin: async () => Buffer.from(stdin) };
  const code = await cli(argv, io);
  return { code, out, err };
}
