// The interpreter of the Python extension's (ms-python.python) active environment, when installed.
// Uses the extension's public API (environments API, with the older `settings.getExecutionDetails`
// as a fallback) without depending on the @vscode/python-extension package.
import * as vscode from 'vscode';
import { PYTHON_EXTENSION_ID } from './constants';

interface EnvironmentPath {
  id: string;
  path: string;
}

interface ResolvedEnvironment {
  executable: { uri?: vscode.Uri };
}

interface PythonExtensionApi {
  ready?: Promise<void>;
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri | vscode.WorkspaceFolder): EnvironmentPath;
    resolveEnvironment(env: EnvironmentPath | string): Promise<ResolvedEnvironment | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined };
    onDidChangeExecutionDetails?: vscode.Event<unknown>;
  };
}

async function getApi(): Promise<PythonExtensionApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!ext) {
    return undefined;
  }
  const api = ext.isActive ? ext.exports : await ext.activate();
  if (api?.ready) {
    await api.ready;
  }
  return api;
}

/** `[python, ...args]` of the active environment, or undefined (no extension / no environment). */
export async function getPythonInterpreter(resource?: vscode.Uri): Promise<string[] | undefined> {
  const api = await getApi();
  if (!api) {
    return undefined;
  }
  if (api.environments) {
    const envPath = api.environments.getActiveEnvironmentPath(resource);
    const env = await api.environments.resolveEnvironment(envPath);
    const exe = env?.executable.uri?.fsPath;
    if (exe) {
      return [exe];
    }
  }
  const cmd = api.settings?.getExecutionDetails(resource).execCommand;
  return cmd && cmd.length > 0 ? cmd : undefined;
}

/** Fires when the user picks another interpreter (no-op when the Python extension is absent). */
export async function onDidChangePythonInterpreter(listener: () => void): Promise<vscode.Disposable> {
  try {
    const api = await getApi();
    const event = api?.environments?.onDidChangeActiveEnvironmentPath ?? api?.settings?.onDidChangeExecutionDetails;
    if (event) {
      return event(() => listener());
    }
  } catch {
    // The Python extension failed to activate: nothing to listen to.
  }
  return new vscode.Disposable(() => undefined);
}
