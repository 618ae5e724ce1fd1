// Finding the language server. `resolveServer` is pure apart from its injected dependencies
// (`which`, file checks, the Python extension's interpreter), so the lookup order is unit-tested.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SERVER_EXECUTABLE, SERVER_MODULE, SERVER_SUBCOMMAND } from './constants';

export type ServerSource = 'setting' | 'python' | 'path';

export interface ServerCommand {
  command: string;
  args: string[];
  source: ServerSource;
}

export interface ResolveResult {
  /** Undefined when no candidate works. */
  server?: ServerCommand;
  /** One line per candidate tried, for the log. */
  attempts: string[];
}

export interface ResolveDeps {
  /** Absolute path of an executable found on PATH, or undefined. */
  which(name: string): Promise<string | undefined>;
  /** True when `file` exists and is executable. */
  isExecutable(file: string): Promise<boolean>;
  /** Interpreter command of the Python extension's active environment (e.g. `['/venv/bin/python']`);
   * undefined when the extension is not installed or has no environment. */
  pythonInterpreter(): Promise<string[] | undefined>;
  /** True when `module` can be imported by the interpreter. */
  hasPythonModule(python: string[], module: string): Promise<boolean>;
}

/** Order: (1) `gorillaLsp.serverCommand`, (2) `<python> -m lsp_server serve` with the Python extension's
 * active interpreter, (3) `gorilla-lsp serve` on PATH. */
export async function resolveServer(settingCommand: string[] | undefined, deps: ResolveDeps): Promise<ResolveResult> {
  const attempts: string[] = [];

  if (settingCommand && settingCommand.length > 0) {
    const [exe, ...args] = settingCommand;
    const found = await findExecutable(exe, deps);
    if (found) {
      attempts.push(`gorillaLsp.serverCommand: using ${found}`);
      return { server: { command: found, args, source: 'setting' }, attempts };
    }
    attempts.push(`gorillaLsp.serverCommand: ${JSON.stringify(exe)} is not an executable file or not on PATH`);
  } else {
    attempts.push('gorillaLsp.serverCommand: not set');
  }

  let python: string[] | undefined;
  try {
    python = await deps.pythonInterpreter();
  } catch (e) {
    attempts.push(`Python extension: could not get the active interpreter (${errorText(e)})`);
  }
  if (python && python.length > 0) {
    const [exe, ...pre] = python;
    const found = await findExecutable(exe, deps);
    if (!found) {
      attempts.push(`Python extension: interpreter ${JSON.stringify(exe)} not found`);
    } else if (await deps.hasPythonModule([found, ...pre], SERVER_MODULE)) {
      attempts.push(`Python extension: using ${found} -m ${SERVER_MODULE}`);
      return {
        server: { command: found, args: [...pre, '-m', SERVER_MODULE, SERVER_SUBCOMMAND], source: 'python' },
        attempts,
      };
    } else {
      attempts.push(`Python extension: ${found} has no '${SERVER_MODULE}' module (gorilla-lsp not installed there)`);
    }
  } else if (python === undefined) {
    attempts.push('Python extension: not installed or no active environment');
  }

  const onPath = await deps.which(SERVER_EXECUTABLE);
  if (onPath) {
    attempts.push(`PATH: using ${onPath}`);
    return { server: { command: onPath, args: [SERVER_SUBCOMMAND], source: 'path' }, attempts };
  }
  attempts.push(`PATH: no '${SERVER_EXECUTABLE}' executable`);
  return { attempts };
}

async function findExecutable(exe: string, deps: ResolveDeps): Promise<string | undefined> {
  if (exe.includes('/') || exe.includes('\\') || path.isAbsolute(exe)) {
    return (await deps.isExecutable(exe)) ? exe : undefined;
  }
  return deps.which(exe);
}

export function describeServer(server: ServerCommand): string {
  return [server.command, ...server.args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---- real implementations of the dependencies ----------------------------------------------------

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const st = await fs.promises.stat(file);
    if (!st.isFile()) {
      return false;
    }
    if (process.platform === 'win32') {
      return true;
    }
    await fs.promises.access(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Minimal `which`: searches PATH (and PATHEXT on Windows). */
export function makeWhich(
  env: Record<string, string | undefined> = process.env,
  isExecutable: (file: string) => Promise<boolean> = isExecutableFile,
  platform: NodeJS.Platform = process.platform,
): (name: string) => Promise<string | undefined> {
  return async (name: string) => {
    const sep = platform === 'win32' ? ';' : ':';
    const dirs = (env.PATH ?? env.Path ?? '').split(sep).filter((d) => d.length > 0);
    const exts =
      platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').map((e) => e.toLowerCase())] : [''];
    const join = (dir: string, file: string) =>
      platform === 'win32' ? path.win32.join(dir, file) : path.posix.join(dir, file);
    for (const dir of dirs) {
      for (const ext of exts) {
        const candidate = join(dir, name + ext);
        if (await isExecutable(candidate)) {
          return candidate;
        }
      }
    }
    return undefined;
  };
}

/** Runs `python -c "find_spec(module)"` (does not import the package). */
export function pythonHasModule(python: string[], module: string, cwd?: string, timeoutMs = 20000): Promise<boolean> {
  const [exe, ...pre] = python;
  const code = `import importlib.util,sys; sys.exit(0 if importlib.util.find_spec(${JSON.stringify(module)}) else 3)`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (!done) {
        done = true;
        resolve(ok);
      }
    };
    try {
      const child = spawn(exe, [...pre, '-c', code], { cwd, stdio: 'ignore', timeout: timeoutMs });
      child.on('error', () => finish(false));
      child.on('exit', (codeOrNull) => finish(codeOrNull === 0));
    } catch {
      finish(false);
    }
  });
}
