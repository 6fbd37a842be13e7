// The Dockerfile, checked without a Docker engine: a real linter (dockerfilelint) and the
// properties issue 6 asks of the image, read from the instructions themselves.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/helm.js';

const dockerfile = join(repoRoot, 'Dockerfile');
// Instructions, with line continuations joined and comments dropped.
const instructions = readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ').split('\n')
  .map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const stages = instructions.join('\n').split(/^(?=FROM )/m).filter((s) => s.startsWith('FROM '));
const runtime = stages.at(-1)!;

t.test('dockerfilelint finds no issue', async (t) => {
  // dockerfilelint lints its argument as Dockerfile *text* when no such file exists: make sure it reads the file.
  t.ok(existsSync(dockerfile), 'the Dockerfile exists');
  const bin = join(repoRoot, 'node_modules', '.bin', 'dockerfilelint');
  const r = spawnSync(bin, ['--output', 'json', dockerfile], { cwd: repoRoot, encoding: 'utf8' });
  t.equal(r.status, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout);
  t.equal(report.files.length, 1);
  t.equal(report.files[0].file, dockerfile);
  t.same(report.files[0].issues, [], 'no issues');
  t.equal(report.totalIssues, 0);
});

t.test('a current Node LTS base chosen by a build argument, for every stage', async (t) => {
  t.match(instructions[0], /^ARG NODE_VERSION=(2[4-9]|[3-9][0-9])$/, 'the first instruction sets a current LTS default');
  t.ok(stages.length >= 2, 'multi-stage');
  for (const stage of stages) t.match(stage, /^FROM node:\$\{NODE_VERSION\}-/, stage.split('\n')[0]);
});

t.test('the build stage compiles with dev dependencies; the runtime gets production dependencies only', async (t) => {
  t.ok(stages.some((s) => /RUN npm ci( |$)(?!.*--omit=dev)/m.test(s) && /RUN npx tsc -p tsconfig.json/.test(s)), 'a stage that installs everything and compiles');
  t.ok(stages.some((s) => /RUN npm ci --omit=dev/.test(s)), 'a stage that installs production dependencies only');
  t.notMatch(runtime, /npm (ci|install)/, 'no npm install in the runtime stage');
  t.match(runtime, /COPY --from=\S+ \/src\/node_modules \.\/node_modules/);
  t.match(runtime, /COPY --from=\S+ \/src\/dist\/src \.\/dist\/src/, 'only the compiled sources (no tests)');
  t.notMatch(runtime, /COPY (--from=\S+ )?(src|test|\.) /, 'no TypeScript sources or the whole context');
});

t.test('runs as a numeric non-root user, exec-form entrypoint straight to node', async (t) => {
  const user = runtime.match(/^USER (\S+)$/m)?.[1];
  t.match(user, /^[1-9][0-9]*(:[1-9][0-9]*)?$/, 'numeric uid (and gid), so runAsNonRoot can verify it');
  t.same(JSON.parse(runtime.match(/^ENTRYPOINT (.+)$/m)![1]!), ['node', 'bin/hookgate.js']);
  t.same(JSON.parse(runtime.match(/^CMD (.+)$/m)![1]!), ['run', '--config', '/etc/hookgate/hookgate.yaml']);
  t.ok(runtime.indexOf('USER ') < runtime.indexOf('ENTRYPOINT '), 'USER before ENTRYPOINT');
  t.notMatch(runtime, /^VOLUME /m, 'no anonymous volumes: the deployment decides what is writable');
});

t.test('the image caps V8\'s young generation at 8 MB and its old at 256 MB through NODE_OPTIONS, which Node accepts', async (t) => {
  const env = runtime.match(/^ENV NODE_OPTIONS="([^"]+)"$/m)?.[1];
  t.equal(env, '--max-semi-space-size=4 --max-old-space-size=256', 'NODE_OPTIONS in the runtime stage (a user can override it)');
  // Grow the young generation with objects that survive scavenges, then read its size and the heap's limit.
  const script = 'const keep = []; for (let i = 0; i < 3e6; i++) { keep.push({ i }); if (keep.length > 2e5) keep.length = 0; } const v8 = require("v8"); console.log(JSON.stringify({ young: v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size, limit: v8.getHeapStatistics().heap_size_limit }))';
  const heap = (options: string) => JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: options } })) as { young: number; limit: number };
  const capped = heap(env!);
  t.ok(capped.young > 0 && capped.young <= 8 * 1048576, `young generation with the image's NODE_OPTIONS: ${capped.young / 1048576} MB`);
  // the old generation's 256 MB and the young generation's spaces: V8 grows the old only by small
  // factors under such a limit, so a run's garbage is collected before RSS climbs (docs/operations.md)
  t.ok(capped.limit >= 256 * 1048576 && capped.limit <= 300 * 1048576, `heap limit with the image's NODE_OPTIONS: ${capped.limit / 1048576} MB`);
  const free = heap('');
  // Without a limit (or one of 2 GiB and more) Node lets both grow past the image's: the flags are what hold them.
  if ((process.constrainedMemory?.() ?? 0) === 0 || process.constrainedMemory!() >= 2 ** 31) {
    t.ok(free.young > capped.young, `young generation without them: ${free.young / 1048576} MB`);
    t.ok(free.limit > 2 * capped.limit, `heap limit without them: ${free.limit / 1048576} MB`);
  } else t.comment(`this machine's memory limit (${process.constrainedMemory!()} bytes) already keeps them small: ${free.young / 1048576} MB, ${free.limit / 1048576} MB`);
});

t.test('.dockerignore keeps the local node_modules, dist and caches out of the build context', async (t) => {
  const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  t.equal(ignore[0], '*', 'everything is excluded first');
  const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  t.same(allowed.sort(), ['bin', 'package-lock.json', 'package.json', 'src', 'tsconfig.json']);
  const copied = [...instructions.join('\n').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
  for (const source of copied) t.ok(allowed.includes(source), `${source} is in the build context`);
});
