// `hookgate migrate`: create or upgrade the ledger schema, then exit.
import { ConfigError, loadConfigFile } from '../config/load.js';
import { migrate } from '../ledger/index.js';
import type { Io } from './main.js';

export async function migrateCommand(file: string, io: Io): Promise<number> {
  try {
    const { config } = loadConfigFile(file, io.env);
    const result = await migrate(config.ledger.url, config.ledger.schema ? { schema: config.ledger.schema } : {});
    io.out(`ledger migrated: ${JSON.stringify(result)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`${file}: invalid\n`);
      for (const p of err.problems) io.err(`  ${p}\n`);
      return 1;
    }
    io.err(`hookgate migrate: ${(err as Error).message}\n`);
    return 1;
  }
}
