// Entry point: wires the output channel, status bar, commands and configuration listener to the
// ServerManager (client.ts). The server starts when the first Python document is open.
import * as vscode from 'vscode';
import { ServerManager } from './client';
import { Commands } from './constants';
import { StatusBar } from './statusBar';

let manager: ServerManager | undefined;

function isPython(doc: vscode.TextDocument): boolean {
  return doc.languageId === 'python' && (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled');
}

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Gorilla LSP', { log: true });
  const statusBar = new StatusBar();
  const mgr = new ServerManager(output, statusBar);
  manager = mgr;
  context.subscriptions.push(output, statusBar);

  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.restartServer, () => mgr.restart(true)),
    vscode.commands.registerCommand(Commands.reloadApiDatabase, () => mgr.reloadApiDatabase()),
    vscode.commands.registerCommand(Commands.showLog, () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => mgr.onDidChangeConfiguration(e)),
  );

  const startIfPython = (doc: vscode.TextDocument) => {
    if (!mgr.started && isPython(doc)) {
      void mgr.start();
    }
  };
  context.subscriptions.push(vscode.workspace.onDidOpenTextDocument(startIfPython));
  vscode.workspace.textDocuments.forEach(startIfPython);
}

export async function deactivate(): Promise<void> {
  const mgr = manager;
  manager = undefined;
  await mgr?.dispose();
}
