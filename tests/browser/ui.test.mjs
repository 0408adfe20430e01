// End-to-end tests of pydepot's web UI (docs/web-ui.md, src/render/ui.h) in Debian's headless
// Chromium, driven by playwright-core, against a real `pydepot serve` on loopback with packages
// built by flit_core, uploaded by twine and installed by pip.
//
//   tests/browser/run.sh          (or: PYDEPOT_BIN=build/pydepot node --test tests/browser/)
//
// Every scenario opens its own browser context (its own cookies) and logs in itself; they share
// one server and the packages uploaded in `before`. Full-page screenshots of the key steps go to
// tests/browser/artifacts/ (also one named *-FAILED.png with the page's HTML when a scenario
// fails), with the server's log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  ARTIFACTS, USERS, Server, addUser, buildPackages, launchChromium, pip, tempDir, twineUpload,
} from './lib/pydepot.mjs';

const TEST_TIMEOUT_MS = Number(process.env.PYDEPOT_BROWSER_TEST_TIMEOUT_MS) || 180_000;
const SESSION_COOKIE = 'pydepot_session';

// The hostile README: Markdown with a heading, a table and a code block, plus script, an event
// handler and a javascript: link that must never run, and links to click. The long code line and
// the long word must not make a phone scroll sideways (scenario 7).
const HOSTILE_README = `# Browser demo heading

Some **bold** text and a [link to the files](#files) on the same page.

| Column A | Column B |
| -------- | -------- |
| cell a1  | cell b1  |
| cell a2  | cell b2  |

\`\`\`python
print("hello from a code block")
${'x = "' + 'a long line that must scroll inside its block, not the page '.repeat(4) + '"'}
\`\`\`

A long word: ${'supercalifragilisticexpialidocious'.repeat(4)}.

<script>window.__pwned=1</script>

<img src=x onerror="window.__pwned=2">

[click](javascript:window.__pwned=3)

[an outside link](https://example.com/outside) and <https://example.org/autolink>.
`;

const YANK_REASON = 'broken build, found by the browser test';

let server;
let browser;
let storage;
let workdir;
const packages = {};

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

// A browser context that only ever talks to the server: any request to another origin is
// refused, and a navigation of the page to another origin is answered with 204 No Content, so
// the browser stays on the page it was on. `blocked` lists what was refused.
async function newContext(options = {}) {
  const context = await browser.newContext({ baseURL: server.url + '/', ...options });
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(60_000);
  context.blocked = [];
  const origin = new URL(server.url).origin;
  await context.route('**/*', async (route) => {
    const request = route.request();
    if (new URL(request.url()).origin === origin) {
      await route.continue();
      return;
    }
    context.blocked.push(request.url());
    if (request.isNavigationRequest()) {
      await route.fulfill({ status: 204, body: '' });
    } else {
      await route.abort('blockedbyclient');
    }
  });
  // A page that a link opens in a new tab or window is closed at once.
  context.on('page', (opened) => {
    if (context.mainPage && opened !== context.mainPage) {
      opened.close().catch(() => {});
    }
  });
  return context;
}

// Runs `body(page, context)` in a fresh context; on failure saves a screenshot and the HTML.
async function scenario(name, body, contextOptions = {}) {
  const context = await newContext(contextOptions);
  const page = await context.newPage();
  context.mainPage = page;
  page.on('dialog', (dialog) => dialog.dismiss().catch(() => {}));
  try {
    await body(page, context);
  } catch (err) {
    const base = path.join(ARTIFACTS, `${slug(name)}-FAILED`);
    await page.screenshot({ path: `${base}.png`, fullPage: true }).catch(() => {});
    await page.content().then((html) => fs.writeFileSync(`${base}.html`, html)).catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
}

// Clicks `target` and waits for the page's next document to load (a form post, a link).
async function clickAndWait(page, target) {
  const navigated = page.waitForEvent('framenavigated', {
    predicate: (frame) => frame === page.mainFrame(),
  });
  await target.click();
  await navigated;
  await page.waitForLoadState('load');
}

function loginForm(page) {
  return page.locator('form').filter({ has: page.locator('input[name="password"]') }).first();
}

// Logs in through the login form; returns the response to the POST.
async function submitLogin(page, user, password) {
  const form = loginForm(page);
  await form.locator('input[name="user"]').fill(user);
  await form.locator('input[name="password"]').fill(password);
  const posted = page.waitForResponse(
    (res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/login');
  await clickAndWait(page, form.locator('button[type="submit"], input[type="submit"]').first());
  return posted;
}

async function login(page, user) {
  await page.goto('login');
  const res = await submitLogin(page, user, USERS[user].password);
  assert.equal(res.status(), 303, `logging in as ${user}: POST /login answered ${res.status()}`);
  assert.notEqual(new URL(page.url()).pathname, '/login', `still on the login page as ${user}`);
}

async function sessionCookie(context) {
  return (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
}

function pathOf(page) {
  return new URL(page.url()).pathname;
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  workdir = tempDir('pydepot-browser-');
  storage = path.join(workdir, 'storage');
  fs.mkdirSync(storage);
  for (const name of Object.keys(USERS)) {
    addUser(storage, name);
  }
  server = await Server.start(storage, path.join(ARTIFACTS, 'pydepot-serve.log'));

  const specs = [
    { key: 'browser-demo-1.0', name: 'browser-demo', version: '1.0', readme: HOSTILE_README,
      sdist: true },
    { key: 'yank-demo-1.0', name: 'yank-demo', version: '1.0' },
    { key: 'yank-demo-2.0', name: 'yank-demo', version: '2.0' },
    { key: 'token-demo-1.0', name: 'token-demo', version: '1.0' },
    { key: 'token-demo-1.1', name: 'token-demo', version: '1.1' },
    { key: 'other-demo-1.0', name: 'other-demo', version: '1.0' },
    { key: 'other-demo-1.1', name: 'other-demo', version: '1.1' },
  ];
  const built = await buildPackages(path.join(workdir, 'build'), specs);
  specs.forEach((spec, i) => { packages[spec.key] = built[i]; });

  // Uploaded in this order, so 2.0 is yank-demo's newest release.
  const files = ['browser-demo-1.0', 'yank-demo-1.0', 'yank-demo-2.0', 'token-demo-1.0',
    'other-demo-1.0'].flatMap((key) => packages[key]);
  const res = await twineUpload(server, files, 'uploader', USERS.uploader.password);
  assert.equal(res.status, 0, `twine upload failed:\n${res.stdout}${res.stderr}`);

  browser = await launchChromium();
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
  if (workdir && !process.env.PYDEPOT_BROWSER_KEEP) {
    fs.rmSync(workdir, { recursive: true, force: true });
  } else if (workdir) {
    console.log(`kept the storage and builds in ${workdir}`);
  }
});

describe('pydepot web UI in Chromium', () => {
  test('1. logging in through the login form; a wrong password shows an error and sets no cookie',
    { timeout: TEST_TIMEOUT_MS }, () => scenario('1 login', async (page, context) => {
      // A page that needs an account sends the visitor to the login form, and back after.
      await page.goto('account/');
      assert.equal(pathOf(page), '/login', `GET /account/ anonymous ended at ${page.url()}`);
      await loginForm(page).waitFor();
      await shot(page, '1-login-form');

      const refused = await submitLogin(page, 'reader', 'not-the-password');
      assert.equal(refused.status(), 403, 'a wrong password answers 403 with the form');
      const message = page.locator('#message');
      await message.waitFor();
      assert.match(await message.innerText(), /\S/, '#message is empty after a wrong password');
      assert.equal(await sessionCookie(context), undefined, 'a wrong password set a session cookie');
      await shot(page, '1-login-wrong-password');

      const accepted = await submitLogin(page, 'reader', USERS.reader.password);
      assert.equal(accepted.status(), 303, 'a right password answers 303');
      assert.equal(pathOf(page), '/account/', `after logging in: ${page.url()} (next= lost?)`);
      const cookie = await sessionCookie(context);
      assert.ok(cookie, 'no session cookie after logging in');
      assert.equal(cookie.httpOnly, true, 'the session cookie is not HttpOnly');
      assert.equal(cookie.sameSite, 'Strict', 'the session cookie is not SameSite=Strict');
      assert.match(await page.locator('body').innerText(), /reader/);
      await shot(page, '1-logged-in-account');
    }));

  test('2. searching from the home page search form finds the package',
    { timeout: TEST_TIMEOUT_MS }, () => scenario('2 search', async (page) => {
      await login(page, 'reader');
      await page.goto('./');
      assert.equal(pathOf(page), '/');
      assert.ok(await page.locator('#recent').count(), 'the home page has no #recent list');
      const form = page.locator('form#search');
      await form.locator('input[name="q"]').fill('browser');
      await shot(page, '2-home');
      const navigated = page.waitForURL((url) => url.pathname === '/search');
      await form.locator('input[name="q"]').press('Enter');
      await navigated;
      await page.waitForLoadState('load');
      assert.equal(new URL(page.url()).searchParams.get('q'), 'browser');
      const hit = page.locator('main a[href$="project/browser-demo/"]').first();
      assert.ok(await hit.count(), 'search for "browser" does not link to project/browser-demo/');
      const text = await page.locator('body').innerText();
      assert.match(text, /browser-demo/);
      assert.doesNotMatch(text, /yank-demo/, 'search for "browser" also lists yank-demo');
      await shot(page, '2-search-results');
      await clickAndWait(page, hit);
      assert.equal(pathOf(page), '/project/browser-demo/');
    }));

  test('3. the project page renders the README safely: no script runs, no script element, CSP',
    { timeout: TEST_TIMEOUT_MS }, () => scenario('3 readme', async (page, context) => {
      const cspViolations = [];
      page.on('console', (msg) => {
        if (/Content Security Policy/i.test(msg.text())) {
          cspViolations.push(msg.text());
        }
      });
      await login(page, 'reader');
      const projectUrl = new URL('project/browser-demo/', server.url + '/').href;
      const res = await page.goto(projectUrl);
      assert.equal(res.status(), 200);
      const headers = res.headers();
      const csp = headers['content-security-policy'];
      assert.ok(csp, 'the project page has no Content-Security-Policy header');
      assert.match(csp, /default-src 'none'/, `CSP: ${csp}`);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|script-src/, `CSP allows scripts: ${csp}`);
      assert.match(headers['x-frame-options'] || '', /^DENY$/i, 'X-Frame-Options is not DENY');

      const description = page.locator('#description');
      assert.equal(await description.locator('h1').innerText(), 'Browser demo heading');
      const table = description.locator('table');
      assert.equal(await table.count(), 1, '#description has no table');
      assert.deepEqual(await table.locator('th').allInnerTexts(), ['Column A', 'Column B']);
      assert.equal(await table.locator('tbody tr').count(), 2);
      assert.match(await description.locator('pre code').innerText(), /print\("hello from a code block"\)/);
      await shot(page, '3-project-page');

      const pwned = () => page.evaluate(() => typeof window.__pwned === 'undefined'
        ? 'undefined' : String(window.__pwned));
      assert.equal(await pwned(), 'undefined', 'window.__pwned is set after load');
      assert.equal(await page.locator('script').count(), 0, 'the page has a <script> element');
      // What a sanitizer must drop, whatever the CSP would do with it.
      const unsafe = await page.evaluate(() => {
        const found = [];
        for (const el of document.querySelectorAll('*')) {
          for (const attr of el.attributes) {
            if (/^on/i.test(attr.name)) {
              found.push(`<${el.localName} ${attr.name}>`);
            }
            if (/^(href|src|action|formaction|xlink:href)$/i.test(attr.name) &&
                /^\s*javascript:/i.test(attr.value)) {
              found.push(`<${el.localName} ${attr.name}="${attr.value}">`);
            }
          }
        }
        for (const el of document.querySelectorAll('iframe, object, embed, frame')) {
          found.push(`<${el.localName}>`);
        }
        return found;
      });
      assert.deepEqual(unsafe, [], 'unsafe markup reached the page');
      assert.equal(await description.locator('img').count(), 0, 'the hostile <img> was rendered');

      const links = description.locator('a');
      const count = await links.count();
      assert.ok(count >= 2, `only ${count} links in #description`);
      for (let i = 0; i < count; i++) {
        const link = links.nth(i);
        const href = await link.getAttribute('href');
        await link.click();
        await page.waitForTimeout(300);
        await page.waitForLoadState('load');
        assert.equal(await pwned(), 'undefined', `window.__pwned is set after clicking ${href}`);
        const here = new URL(page.url());
        here.hash = '';
        if (here.href !== projectUrl) {
          // A same-site link that left the page: check there too, then come back.
          assert.equal(here.origin, new URL(server.url).origin, `left the site for ${page.url()}`);
          await page.goto(projectUrl);
        }
      }
      assert.equal(page.frames().length, 1, 'a frame appeared');
      assert.equal(await page.locator('script').count(), 0);
      assert.deepEqual(cspViolations, [],
        'the CSP had to block something (the sanitizer let it through)');
      // The outside links were clicked and blocked by the route (the browser stayed here).
      assert.ok(context.blocked.some((u) => u.startsWith('https://example.com/')),
        `the outside link was not followed: blocked=${JSON.stringify(context.blocked)}`);
      await shot(page, '3-project-page-after-clicks');
    }));

  test('4. yanking 2.0 on the manage page: marked yanked with its reason; pip takes 1.0',
    { timeout: TEST_TIMEOUT_MS }, () => scenario('4 yank', async (page) => {
      await login(page, 'admin');
      await page.goto('manage/project/yank-demo/');
      assert.equal(pathOf(page), '/manage/project/yank-demo/');
      await shot(page, '4-manage-before');

      // The yank form of 2.0: its version field is hidden with value 2.0, or a field to fill.
      const yankForms = page.locator('form[action$="/yank"]');
      assert.ok(await yankForms.count(), 'the manage page has no form posting to .../yank');
      let form = yankForms.filter({ has: page.locator('input[name="version"][value="2.0"]') });
      if (await form.count() === 0) {
        form = yankForms.first();
        await form.locator('input[name="version"]').fill('2.0');
      } else {
        form = form.first();
        if (await form.locator('input[name="version"]').isVisible()) {
          await form.locator('input[name="version"]').fill('2.0');
        }
      }
      await form.locator('input[name="reason"], textarea[name="reason"]').fill(YANK_REASON);
      await clickAndWait(page, form.locator('button[type="submit"], input[type="submit"]').first());
      assert.equal(pathOf(page), '/manage/project/yank-demo/', `after yanking: ${page.url()}`);
      const message = page.locator('#message');
      await message.waitFor();
      assert.match(await message.innerText(), /yank/i);
      assert.match(await page.locator('body').innerText(), new RegExp(YANK_REASON));
      await shot(page, '4-manage-after-yank');

      await page.goto('project/yank-demo/');
      const versions = page.locator('#versions');
      const yanked = versions.locator('li').filter({ hasText: /\b2\.0\b/ });
      assert.equal(await yanked.count(), 1, '#versions has no single entry for 2.0');
      const yankedText = await yanked.innerText();
      assert.match(yankedText, /yanked/i, `2.0 is not marked yanked: ${yankedText}`);
      assert.ok(yankedText.includes(YANK_REASON), `2.0 does not show the reason: ${yankedText}`);
      const kept = await versions.locator('li').filter({ hasText: /\b1\.0\b/ }).innerText();
      assert.doesNotMatch(kept, /yanked/i, `1.0 is marked yanked: ${kept}`);
      await shot(page, '4-project-page-yanked');

      // pip skips the yanked release when nothing pins it...
      const target = tempDir('pydepot-browser-pip-');
      try {
        const installed = await pip('install', '--no-deps', '--target', target,
          '--index-url', server.indexUrl('reader'), 'yank-demo');
        assert.equal(installed.status, 0, `pip install failed:\n${installed.stdout}${installed.stderr}`);
        const dists = fs.readdirSync(target).filter((f) => f.endsWith('.dist-info'));
        assert.deepEqual(dists, ['yank_demo-1.0.dist-info'], `pip installed ${dists}`);
        // ...and still gives it to whoever pins it exactly (PEP 592).
        const pinned = path.join(target, 'pinned');
        const got = await pip('download', '--no-deps', '-d', pinned,
          '--index-url', server.indexUrl('reader'), 'yank-demo==2.0');
        assert.equal(got.status, 0, `pip download ==2.0 failed:\n${got.stdout}${got.stderr}`);
        const pinnedFiles = fs.readdirSync(pinned);
        assert.ok(pinnedFiles.length === 1 && /^yank_demo-2\.0-.*\.whl$/.test(pinnedFiles[0]),
          `pip download yank-demo==2.0 got ${pinnedFiles}`);
      } finally {
        fs.rmSync(target, { recursive: true, force: true });
      }
    }));

  test('5. an upload token made on /account/ uploads to its project only',
    { timeout: TEST_TIMEOUT_MS }, () => scenario('5 token', async (page) => {
      await login(page, 'uploader');
      await page.goto('account/');
      const form = page.locator('form').filter({ has: page.locator('select[name="scope"]') }).first();
      await form.locator('input[name="name"]').fill('browser test token');
      await form.locator('select[name="scope"]').selectOption('upload');
      await form.locator('input[name="projects"]').fill('token-demo');
      await clickAndWait(page, form.locator('button[type="submit"], input[type="submit"]').first());
      const token = (await page.locator('#new-token').innerText()).trim();
      assert.match(token, /^pydepot-[0-9a-f]{16}-[0-9a-f]{64}$/, `#new-token: ${token}`);
      await shot(page, '5-token-created');

      const ok = await twineUpload(server, packages['token-demo-1.1'], '__token__', token);
      assert.equal(ok.status, 0, `token upload to token-demo failed:\n${ok.stdout}${ok.stderr}`);
      const refused = await twineUpload(server, packages['other-demo-1.1'], '__token__', token);
      assert.notEqual(refused.status, 0, 'a token limited to token-demo uploaded to other-demo');
      assert.match(refused.stdout + refused.stderr, /403/,
        `the refusal is not a 403:\n${refused.stdout}${refused.stderr}`);

      await page.goto('project/token-demo/');
      assert.match(await page.locator('#versions').innerText(), /\b1\.1\b/);
      await page.goto('project/other-demo/');
      assert.doesNotMatch(await page.locator('#versions').innerText(), /\b1\.1\b/);

      // The secret is shown once; the token stays listed.
      await page.goto('account/');
      assert.equal(await page.locator('#new-token').count(), 0, 'the token is shown again');
      const body = await page.locator('body').innerText();
      assert.ok(body.includes('browser test token'), 'the token is not listed on /account/');
      assert.ok(!body.includes(token.split('-')[2]), 'the token secret is on the page again');
      await shot(page, '5-account-tokens');
    }));

  test('6. the logout button ends the session (every session of that user)',
    { timeout: TEST_TIMEOUT_MS }, () => scenario('6 logout', async (page, context) => {
      // A second browser, logged in as the same user, loses its session too.
      const other = await newContext();
      try {
        const otherPage = await other.newPage();
        other.mainPage = otherPage;
        await login(otherPage, 'leaver');
        await login(page, 'leaver');
        await page.goto('account/');
        assert.equal(pathOf(page), '/account/');
        await shot(page, '6-account-before-logout');
        const logout = page.locator('form[action$="logout"]');
        assert.equal(await logout.count(), 1, 'no logout form on /account/');
        await clickAndWait(page, logout.locator('button[type="submit"], input[type="submit"]').first());
        assert.equal(await sessionCookie(context), undefined, 'the session cookie is still set');
        await page.goto('account/');
        assert.equal(pathOf(page), '/login', `after logging out, /account/ shows ${page.url()}`);
        await loginForm(page).waitFor();
        await shot(page, '6-after-logout');

        await otherPage.goto('account/');
        assert.equal(pathOf(otherPage), '/login',
          `the user's other session survived the logout: ${otherPage.url()}`);
      } finally {
        await other.close();
      }
    }));

  test('7. at a phone viewport (390x844) the pages do not scroll sideways',
    { timeout: TEST_TIMEOUT_MS }, () => scenario('7 phone', async (page) => {
      await login(page, 'admin');
      const pages = ['./', 'project/browser-demo/', 'project/browser-demo/1.0/', 'search?q=demo',
        'account/', 'manage/project/yank-demo/', 'manage/users/', 'login'];
      const problems = [];
      for (const where of pages) {
        await page.goto(where);
        const { scrollWidth, innerWidth } = await page.evaluate(() => ({
          scrollWidth: document.scrollingElement.scrollWidth,
          innerWidth: window.innerWidth,
        }));
        if (innerWidth !== 390) {
          problems.push(`/${where}: innerWidth ${innerWidth}, not 390 (no width=device-width viewport?)`);
        }
        if (scrollWidth > innerWidth) {
          problems.push(`/${where}: scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`);
        }
        await shot(page, `7-phone-${slug(where) || 'home'}`);
      }
      assert.deepEqual(problems, [], problems.join('\n'));
    }, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }));
});
