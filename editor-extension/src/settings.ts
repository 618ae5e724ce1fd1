// Settings: from raw `gorillaLsp.*` configuration values to validated server settings.
// Pure (no `vscode` import) so it is unit-tested without an editor; `readSettings` in extension code
// passes `workspace.getConfiguration('gorillaLsp').get` as the getter.
import * as os from 'node:os';
import * as path from 'node:path';
import { SERVER_EXECUTABLE, SERVER_SUBCOMMAND } from './constants';

export const DEVICES = ['auto', 'cpu', 'cuda'] as const;
export const COMPUTE_TYPES = [
  'auto',
  'int8',
  'int8_float16',
  'int8_float32',
  'int8_bfloat16',
  'int16',
  'float16',
  'bfloat16',
  'float32',
] as const;
export const HALLUCINATED_MODES = ['warn', 'hide'] as const;
export const SEVERITIES = ['error', 'warning', 'information', 'hint'] as const;
export const UNVERIFIED_SEVERITIES = ['information', 'hint', 'off'] as const;
export const TRACE_LEVELS = ['off', 'messages', 'verbose'] as const;

export type Device = (typeof DEVICES)[number];
export type ComputeType = (typeof COMPUTE_TYPES)[number];
export type HallucinatedMode = (typeof HALLUCINATED_MODES)[number];
export type Severity = (typeof SEVERITIES)[number];
export type UnverifiedSeverity = (typeof UNVERIFIED_SEVERITIES)[number];
export type TraceLevel = (typeof TRACE_LEVELS)[number];

/** What the server receives: `initializationOptions = {gorillaLsp: ServerSettings}` and the same in
 * `workspace/didChangeConfiguration` (`settings = {gorillaLsp: ServerSettings}`). */
export interface ServerSettings {
  apiDatabase: string[];
  model: {
    path: string;
    device: Device;
    computeType: ComputeType;
    template: string;
  };
  retrieval: { topK: number; hybrid: boolean };
  completion: { maxCandidates: number; hallucinated: HallucinatedMode };
  diagnostics: { enabled: boolean; severity: Severity; unverified: UnverifiedSeverity };
  verification: { online: boolean };
}

export interface Settings {
  /** From `gorillaLsp.serverCommand`; undefined when not set (empty array / blank string). */
  serverCommand: string[] | undefined;
  server: ServerSettings;
  trace: TraceLevel;
  /** Human-readable problems with the raw values (each replaced by its default). */
  warnings: string[];
}

export const DEFAULT_SERVER_SETTINGS: ServerSettings = Object.freeze({
  apiDatabase: [],
  model: { path: '', device: 'auto', computeType: 'auto', template: 'gorilla-v0' },
  retrieval: { topK: 5, hybrid: true },
  completion: { maxCandidates: 5, hallucinated: 'warn' },
  diagnostics: { enabled: true, severity: 'warning', unverified: 'information' },
  verification: { online: true },
}) as ServerSettings;

export const TOP_K_RANGE = { min: 1, max: 50 } as const;
export const MAX_CANDIDATES_RANGE = { min: 1, max: 20 } as const;

/** Context for expanding paths: `~`, `${userHome}`, `${workspaceFolder}`, `${env:NAME}`; relative paths
 * are resolved against the workspace folder when there is one. */
export interface PathContext {
  workspaceFolder?: string;
  homeDir?: string;
  env?: Record<string, string | undefined>;
}

/** Reads one key below the `gorillaLsp` section, e.g. `model.path`. */
export type SettingGetter = (key: string) => unknown;

export function readSettings(get: SettingGetter, ctx: PathContext = {}): Settings {
  const warnings: string[] = [];
  const d = DEFAULT_SERVER_SETTINGS;
  const server: ServerSettings = {
    apiDatabase: stringArray(get('apiDatabase'), 'apiDatabase', warnings).map((p) => expandPath(p, ctx)),
    model: {
      path: expandPath(str(get('model.path'), d.model.path, 'model.path', warnings).trim(), ctx),
      device: oneOf(get('model.device'), DEVICES, d.model.device, 'model.device', warnings),
      computeType: oneOf(get('model.computeType'), COMPUTE_TYPES, d.model.computeType, 'model.computeType', warnings),
      template: str(get('model.template'), d.model.template, 'model.template', warnings).trim() || d.model.template,
    },
    retrieval: {
      topK: int(get('retrieval.topK'), d.retrieval.topK, TOP_K_RANGE, 'retrieval.topK', warnings),
      hybrid: bool(get('retrieval.hybrid'), d.retrieval.hybrid, 'retrieval.hybrid', warnings),
    },
    completion: {
      maxCandidates: int(
        get('completion.maxCandidates'),
        d.completion.maxCandidates,
        MAX_CANDIDATES_RANGE,
        'completion.maxCandidates',
        warnings,
      ),
      hallucinated: oneOf(
        get('completion.hallucinated'),
        HALLUCINATED_MODES,
        d.completion.hallucinated,
        'completion.hallucinated',
        warnings,
      ),
    },
    diagnostics: {
      enabled: bool(get('diagnostics.enabled'), d.diagnostics.enabled, 'diagnostics.enabled', warnings),
      severity: oneOf(get('diagnostics.severity'), SEVERITIES, d.diagnostics.severity, 'diagnostics.severity', warnings),
      unverified: oneOf(
        get('diagnostics.unverified'),
        UNVERIFIED_SEVERITIES,
        d.diagnostics.unverified,
        'diagnostics.unverified',
        warnings,
      ),
    },
    verification: {
      online: bool(get('verification.online'), d.verification.online, 'verification.online', warnings),
    },
  };
  return {
    serverCommand: parseServerCommand(get('serverCommand'), ctx, warnings),
    server,
    trace: oneOf(get('trace.server'), TRACE_LEVELS, 'off', 'trace.server', warnings),
    warnings,
  };
}

/** `initializationOptions` of the language client. */
export function initializationOptions(settings: Settings): { gorillaLsp: ServerSettings } {
  return { gorillaLsp: settings.server };
}

/** True when going from `a` to `b` needs a new server process (command, model or database changed);
 * other changes are sent with workspace/didChangeConfiguration. */
export function needsRestart(a: Settings, b: Settings): boolean {
  return (
    JSON.stringify(a.serverCommand ?? null) !== JSON.stringify(b.serverCommand ?? null) ||
    JSON.stringify(a.server.model) !== JSON.stringify(b.server.model) ||
    JSON.stringify(a.server.apiDatabase) !== JSON.stringify(b.server.apiDatabase)
  );
}

/** `gorillaLsp.serverCommand`: array of strings or a command-line string. A lone `gorilla-lsp`
 * executable gets `serve` appended. */
export function parseServerCommand(raw: unknown, ctx: PathContext = {}, warnings: string[] = []): string[] | undefined {
  let parts: string[];
  if (raw === undefined || raw === null) {
    return undefined;
  } else if (typeof raw === 'string') {
    parts = splitCommandLine(raw);
  } else if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) {
    parts = raw.filter((x, i) => i > 0 || x.trim() !== '');
  } else {
    warnings.push('gorillaLsp.serverCommand must be an array of strings or a string; ignored.');
    return undefined;
  }
  if (parts.length === 0) {
    return undefined;
  }
  parts[0] = expandPath(parts[0], { ...ctx, workspaceFolder: isPathLike(parts[0]) ? ctx.workspaceFolder : undefined });
  const base = path.basename(parts[0]).replace(/\.exe$/i, '');
  if (parts.length === 1 && base === SERVER_EXECUTABLE) {
    parts.push(SERVER_SUBCOMMAND);
  }
  return parts;
}

/** Splits a command line on whitespace, honouring single and double quotes and backslash escapes
 * (outside single quotes). */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inArg = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) {
        quote = undefined;
      } else if (c === '\\' && quote === '"' && i + 1 < line.length && /["\\$`]/.test(line[i + 1])) {
        cur += line[++i];
      } else {
        cur += c;
      }
    } else if (c === '"' || c === "'") {
      quote = c;
      inArg = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inArg = true;
    } else if (/\s/.test(c)) {
      if (inArg) {
        out.push(cur);
        cur = '';
        inArg = false;
      }
    } else {
      cur += c;
      inArg = true;
    }
  }
  if (inArg) {
    out.push(cur);
  }
  return out;
}

function isPathLike(p: string): boolean {
  return p.includes('/') || p.includes('\\') || p.startsWith('~') || p.startsWith('${');
}

/** Expands `~`, `${userHome}`, `${workspaceFolder}`, `${env:NAME}`; makes relative paths absolute
 * against the workspace folder (when known). Empty stays empty. */
export function expandPath(p: string, ctx: PathContext = {}): string {
  if (!p) {
    return p;
  }
  const home = ctx.homeDir ?? os.homedir();
  const env = ctx.env ?? process.env;
  let out = p
    .replace(/\$\{userHome\}/g, home)
    .replace(/\$\{env:([^}]+)\}/g, (_m, name: string) => env[name] ?? '');
  if (ctx.workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, ctx.workspaceFolder);
  }
  if (out === '~') {
    out = home;
  } else if (out.startsWith('~/') || out.startsWith('~\\')) {
    out = path.join(home, out.slice(2));
  }
  if (ctx.workspaceFolder && !path.isAbsolute(out) && !out.includes('${')) {
    out = path.resolve(ctx.workspaceFolder, out);
  }
  return out;
}

// ---- validators: invalid values fall back to the default and add a warning ----------------------

function str(v: unknown, def: string, key: string, warnings: string[]): string {
  if (v === undefined || v === null) {
    return def;
  }
  if (typeof v !== 'string') {
    warnings.push(`gorillaLsp.${key} must be a string; using ${JSON.stringify(def)}.`);
    return def;
  }
  return v;
}

function bool(v: unknown, def: boolean, key: string, warnings: string[]): boolean {
  if (v === undefined || v === null) {
    return def;
  }
  if (typeof v !== 'boolean') {
    warnings.push(`gorillaLsp.${key} must be true or false; using ${def}.`);
    return def;
  }
  return v;
}

function int(
  v: unknown,
  def: number,
  range: { min: number; max: number },
  key: string,
  warnings: string[],
): number {
  if (v === undefined || v === null) {
    return def;
  }
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    warnings.push(`gorillaLsp.${key} must be an integer from ${range.min} to ${range.max}; using ${def}.`);
    return def;
  }
  const r = Math.round(n);
  const clamped = Math.min(range.max, Math.max(range.min, r));
  if (clamped !== n) {
    warnings.push(`gorillaLsp.${key} must be an integer from ${range.min} to ${range.max}; using ${clamped}.`);
  }
  return clamped;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], def: T, key: string, warnings: string[]): T {
  if (v === undefined || v === null) {
    return def;
  }
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) {
    return v as T;
  }
  warnings.push(`gorillaLsp.${key} must be one of ${allowed.join(', ')}; using ${JSON.stringify(def)}.`);
  return def;
}

function stringArray(v: unknown, key: string, warnings: string[]): string[] {
  if (v === undefined || v === null) {
    return [];
  }
  if (typeof v === 'string') {
    return v.trim() ? [v.trim()] : [];
  }
  if (!Array.isArray(v)) {
    warnings.push(`gorillaLsp.${key} must be an array of paths; ignored.`);
    return [];
  }
  const out: string[] = [];
  for (const item of v) {
    if (typeof item === 'string' && item.trim()) {
      out.push(item.trim());
    } else {
      warnings.push(`gorillaLsp.${key}: ignored entry ${JSON.stringify(item)} (not a path).`);
    }
  }
  return out;
}
