// Page objects for the web console in Chromium: each page's test ids and waits in one place, so a test reads
// as what a person does. The test ids are the console's own (packages/web/README.md, "Test ids").
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Browser, Locator, Page, Response } from 'playwright-core';

/** A browser tab on the console, with its screenshots kept in `artifacts`. */
export class ConsoleTab {
  private constructor(
    readonly page: Page,
    readonly url: string,
    private readonly artifacts: string,
  ) {}

  /** A fresh context (no cookies) on `url`, the controller's; any dialog fails the test. */
  static async open(browser: Browser, url: string, artifacts: string): Promise<ConsoleTab> {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1400, height: 900 },
    });
    const page = await context.newPage();
    // Any alert, confirm or prompt means markup ran as code.
    page.on('dialog', (d) => {
      void d.dismiss();
      assert.fail(`a dialog opened: ${d.message()}`);
    });
    return new ConsoleTab(page, url, artifacts);
  }

  async shot(name: string): Promise<void> {
    await this.page.screenshot({ path: path.join(this.artifacts, `${name}.png`), fullPage: true });
  }

  /** Opens the console's home page; its response, for its headers. */
  async home(): Promise<Response | null> {
    return this.page.goto(this.url);
  }

  byTestId(id: string): Locator {
    return this.page.getByTestId(id);
  }

  get login(): LoginPage {
    return new LoginPage(this);
  }

  get nav(): AppFrame {
    return new AppFrame(this);
  }

  get clusters(): ClustersPage {
    return new ClustersPage(this);
  }

  get shell(): ShellPage {
    return new ShellPage(this);
  }

  get audit(): AuditPage {
    return new AuditPage(this);
  }

  async close(): Promise<void> {
    await this.page.context().close();
  }
}

/** The sign-in form, the two-factor prompt and the enrolment the org may require first. */
export class LoginPage {
  constructor(private readonly tab: ConsoleTab) {}

  /** Signs in with a password and waits for the app. */
  async signIn(username: string, password: string): Promise<void> {
    await this.submitPassword(username, password);
    await this.tab.byTestId('nav-clusters').waitFor();
  }

  /** Opens the console and submits a username and password, waiting for nothing. */
  async submitPassword(username: string, password: string): Promise<void> {
    await this.tab.home();
    await this.tab.byTestId('login-username').fill(username);
    await this.tab.byTestId('login-password').fill(password);
    await this.tab.byTestId('login-submit').click();
  }

  /** The enrolment shown to someone who must set up a second factor: its seed and otpauth URI. */
  async enrolment(): Promise<{ secret: string; uri: string }> {
    await this.tab.byTestId('login-enrol').waitFor();
    return {
      secret: (await this.tab.byTestId('totp-secret').innerText()).trim(),
      uri: await this.tab.byTestId('totp-uri').innerText(),
    };
  }

  async confirmEnrolment(code: string): Promise<void> {
    await this.tab.byTestId('totp-enrol-code').fill(code);
    await this.tab.byTestId('totp-enrol-submit').click();
  }

  async waitForCodePrompt(): Promise<void> {
    await this.tab.byTestId('login-totp-prompt').waitFor();
  }

  async submitCode(code: string): Promise<void> {
    await this.tab.byTestId('login-totp').fill(code);
    await this.tab.byTestId('login-submit').click();
  }

  async waitForMessage(text: string): Promise<void> {
    await this.tab.page.getByText(text).waitFor();
  }
}

/** What every signed-in page has: the navigation, the project switcher and the user menu. */
export class AppFrame {
  constructor(private readonly tab: ConsoleTab) {}

  /** Whether the navigation offers `section` (`clusters`, `audit`, `users`, …). */
  async offers(section: string): Promise<boolean> {
    return (await this.tab.byTestId(`nav-${section}`).count()) > 0;
  }

  async go(section: string): Promise<void> {
    await this.tab.byTestId(`nav-${section}`).click();
  }

  async chooseProject(project: string): Promise<void> {
    await this.tab.byTestId('project-switcher').click();
    await this.tab.page.getByRole('option', { name: project }).click();
  }

  async waitForUserMenuItem(id: string, text: string): Promise<void> {
    await this.tab.byTestId('user-menu').click();
    await this.tab.byTestId(id).getByText(text).waitFor();
  }
}

/** Clusters: the project's clusters, each with its status and its Kubectl button. */
export class ClustersPage {
  constructor(private readonly tab: ConsoleTab) {}

  /** Goes to the page and waits for `cluster`'s row. */
  async open(cluster: string): Promise<void> {
    await this.tab.nav.go('clusters');
    await this.tab.byTestId(`cluster-row-${cluster}`).waitFor();
  }

  async status(cluster: string): Promise<string> {
    return this.tab.byTestId(`cluster-status-${cluster}`).innerText();
  }

  async offersRegistration(): Promise<boolean> {
    return (await this.tab.byTestId('register-cluster').count()) > 0;
  }

  /** Opens `cluster`'s browser shell and waits for its first prompt. */
  async openShell(cluster: string): Promise<void> {
    await this.tab.byTestId(`kubectl-${cluster}`).click();
    await this.tab.shell.waitFor(/\$\s*$/m);
  }
}

/** The browser shell: an xterm.js terminal that the server drives. */
export class ShellPage {
  constructor(private readonly tab: ConsoleTab) {}

  /** What the terminal shows, row by row, as text. */
  async text(): Promise<string> {
    const rows = this.tab.byTestId('terminal').locator('.xterm-rows');
    // xterm's DOM renderer draws spaces as no-break spaces.
    return (await rows.innerText()).replace(/\u00a0/g, ' ');
  }

  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.text().catch(() => '');
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) {
        await this.tab.shot(`failed-${Date.now()}`);
        assert.fail(`the terminal never showed ${String(pattern)}; it shows:\n${text}`);
      }
      await this.tab.page.waitForTimeout(200);
    }
  }

  /** Types `line` and Enter. */
  async type(line: string): Promise<void> {
    await this.tab.byTestId('terminal').click();
    await this.tab.page.keyboard.type(line);
    await this.tab.page.keyboard.press('Enter');
  }

  /** Types `line` and waits for the terminal to show `expect`. */
  async run(line: string, expect: RegExp): Promise<string> {
    await this.type(line);
    return this.waitFor(expect);
  }

  async clear(): Promise<void> {
    await this.tab.page.keyboard.press('Control+L');
  }
}

/** System → Audit Logs. */
export class AuditPage {
  constructor(private readonly tab: ConsoleTab) {}

  /** Goes to the kubectl tab's Commands view: browser shell lines and kubectl invocations. */
  async openCommands(): Promise<void> {
    await this.tab.nav.go('audit');
    await this.tab.byTestId('audit-tab-kubectl').click();
    await this.tab.byTestId('audit-view-commands').click();
  }

  /** Switches the kubectl tab to its API calls view. */
  async showApiCalls(): Promise<void> {
    await this.tab.byTestId('audit-view-api').click();
  }

  /** The first result row with `text`, once there is one. */
  async row(text: string | RegExp): Promise<Locator> {
    const row = this.tab.byTestId('audit-row').filter({ hasText: text }).first();
    await row.waitFor();
    return row;
  }
}
