// The status bar item: shows `renderStatus` (status.ts) and opens the log when clicked.
import * as vscode from 'vscode';
import { Commands } from './constants';
import { renderStatus, StatusSnapshot } from './status';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('gorillaLsp.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'Gorilla LSP';
    this.item.command = Commands.showLog;
  }

  update(snapshot: StatusSnapshot): void {
    const view = renderStatus(snapshot);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.accessibilityInformation = { label: view.tooltip.split('\n')[0] };
    this.item.backgroundColor =
      view.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
