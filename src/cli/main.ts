// hookgate's command line (CONTRACT.md, Command line): run, check, sign, migrate.
import { parseArgs } from 'node:util';
import { runCommand } from './run.js';
import { checkCommand } from './check.js';
import { signCommand } from './sign.js';
import { migrateCommand } from './migrate.js';
import { providersCommand } from './providers.js';
import { spoolCommand, SPOOL_USAGE } from './spool.js';

const USAGE = `usage:
  hookgate run --config FILE           start the gateway (also: hookgate --config FILE; HOOKGATE_CONFIG)
  hookgate check --config FILE         validate the config and its secrets; exit 0 valid, 1 invalid
  hookgate sign --provider NAME --secret S [--body FILE|-] [--url URL] [--timestamp UNIX] [--id ID] [--curl URL]
                                       print the headers of a valid delivery
  hookgate providers [--json]          every provider: family, signature headers, id source, tolerance, documentation
  hookgate migrate --config FILE       create or upgrade the ledger schema
  hookgate spool VERB --config FILE    the spool on the ledger database: stats, ls, show, replay, cancel, pause, resume
`;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  stdin: () => Promise<Buffer>;
}

const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  },
};

/** Returns the exit code; `run` resolves only when the gateway has stopped. */
export async function cli(argv: string[], io: Io = processIo): Promise<number> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'run';
  const rest = argv[0] && !argv[0].startsWith('-') ? argv.slice(1) : argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: command === 'spool',
      options: {
        config: { type: 'string', short: 'c' },
        provider: { type: 'string' },
        secret: { type: 'string' },
        body: { type: 'string' },
        url: { type: 'string' },
        timestamp: { type: 'string' },
        id: { type: 'string' },
        method: { type: 'string' },
        curl: { type: 'string' },
        json: { type: 'boolean' },
        state: { type: 'string' },
        route: { type: 'string' },
        tenant: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        'per-second': { type: 'string' },
        'dry-run': { type: 'boolean' },
        bytes: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`hookgate: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const o = parsed.values;
  if (o.help || command === 'help') {
    io.out(USAGE);
    return 0;
  }
  const config = o.config ?? io.env.HOOKGATE_CONFIG;
  switch (command) {
    case 'run':
    case 'check':
    case 'migrate':
      if (!config) {
        io.err(`hookgate ${command}: --config FILE is required (or set HOOKGATE_CONFIG)\n`);
        return 2;
      }
      if (command === 'check') return checkCommand(config, io);
      if (command === 'migrate') return migrateCommand(config, io);
      return runCommand(config, io);
    case 'sign':
      return signCommand(o, io);
    case 'providers':
      return providersCommand(o.json === true, io);
    case 'spool':
      if (!config) {
        io.err(`hookgate spool: --config FILE is required (or set HOOKGATE_CONFIG)\n${SPOOL_USAGE}`);
        return 2;
      }
      return spoolCommand(config, parsed.positionals, o, io);
    default:
      io.err(`hookgate: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

export async function main(argv: string[]): Promise<void> {
  // A reader that stops early (`hookgate providers | head`) closes the pipe: that ends the output, not
  // the process with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const code = await cli(argv);
  // `run` keeps the process alive through its servers and exits on its own after a drain.
  if (code !== -1) process.exitCode = code;
}
