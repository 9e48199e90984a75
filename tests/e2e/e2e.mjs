// End-to-end test of the pages in headless Chromium, against a running caltrace seeded with
// `caltrace demo` (scripts/e2e.sh sets that up). Exits non-zero on the first failed check.
//   BASE_URL         the service, e.g. http://127.0.0.1:8765
//   TECH_PASSWORD    password of demo-technician
//   APPROVER_PASSWORD password of demo-approver
//   SCREENSHOTS      optional directory: a full-page PNG of every page visited
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const shots = process.env.SCREENSHOTS;
if (shots) mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

let step = 0;
async function shot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${String(++step).padStart(2, '0')}-${name}.png`, fullPage: true });
}

async function login(context, user, password) {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/login\?next=/, 'pages send a visitor to the login form');
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await shot(page, `login-${user}`);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${base}/`);
  assert.ok(await page.getByText(user).first().isVisible(), 'the header names the user');
  return page;
}

function check(name, fn) {
  return fn().then(() => console.log(`ok - ${name}`));
}

try {
  // --- a technician: sees the pending calibration, no approve button, refused if posting anyway
  const techContext = await browser.newContext({ acceptDownloads: true });
  const tech = await login(techContext, 'demo-technician', process.env.TECH_PASSWORD);
  let pendingUrl;
  await check('technician: no approve button, and a forged approval is refused (403)', async () => {
    await shot(tech, 'dashboard');
    const pending = tech.locator('#approval tbody a[href^="/calibrations/"]').first();
    pendingUrl = new URL(await pending.getAttribute('href'), base).href;
    await pending.click();
    await tech.waitForURL(pendingUrl);
    assert.equal(await tech.locator('#calibration-status').innerText(), 'submitted');
    assert.equal(await tech.getByRole('button', { name: 'Approve and issue' }).count(), 0);
    const csrf = await tech.locator('input[name=csrf_token]').first().inputValue();
    const answer = await tech.request.post(`${pendingUrl}/approve`, { form: { csrf_token: csrf }, maxRedirects: 0 });
    assert.equal(answer.status(), 403);
    await tech.reload();
    assert.equal(await tech.locator('#calibration-status').innerText(), 'submitted', 'still not approved');
  });

  // --- an approver: search, chain, approve, PDF, verify
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await login(context, 'demo-approver', process.env.APPROVER_PASSWORD);
  await check('approver: search an instrument and open its chain', async () => {
    await page.getByRole('link', { name: 'Instruments' }).click();
    await page.getByLabel('Search').fill('PG-0008');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=PG-0008/);
    await shot(page, 'instruments-search');
    const rows = page.locator('tbody tr');
    assert.equal(await rows.count(), 1, 'the search finds exactly PG-0008');
    await page.getByRole('link', { name: 'PG-0008' }).click();
    await page.waitForURL(/\/instruments\/\d+$/);
    const diagram = page.locator('.diagram svg[role=img]');
    assert.ok(await diagram.isVisible(), 'the chain is drawn');
    // The demo's PG-0008 was calibrated with REF-P-03, itself calibrated by an expired REF-P-04.
    assert.match(await page.locator('#chain-verdict').innerText(), /Not traceable.*standard expired at use/s);
    assert.match(await diagram.innerHTML(), /REF-P-03/);
    await shot(page, 'instrument-broken-chain');
    // Follow the chain up one link, by the diagram itself.
    await page.locator('.diagram svg a', { hasText: 'REF-P-03' }).first().click();
    await page.waitForURL(/\/instruments\/\d+$/);
    assert.match(await page.locator('h1').innerText(), /REF-P-03/);
    await shot(page, 'instrument-standard');
  });

  await check('an instrument page prints as a clean statement: no navigation, when and by whom', async () => {
    await page.emulateMedia({ media: 'print' });
    assert.ok(!(await page.locator('header.top').isVisible()), 'no navigation in print');
    assert.match(await page.locator('#printed-by').innerText(), /REF-P-03.*as of \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC.*printed by demo-approver/s);
    await shot(page, 'instrument-printed');
    await page.emulateMedia({ media: 'screen' });
    assert.ok(!(await page.locator('#printed-by').isVisible()), 'the print line is for print only');
  });

  let number;
  await check('approver: approve the pending calibration, a certificate is issued', async () => {
    await page.goto(pendingUrl);
    await shot(page, 'calibration-submitted');
    // Approving signs electronically (21 CFR 11.50): the approver's password again, and a meaning.
    await page.locator('#password').fill(process.env.APPROVER_PASSWORD);
    await page.getByRole('button', { name: 'Sign, approve and issue' }).click();
    await page.waitForURL(pendingUrl);
    assert.equal(await page.locator('#calibration-status').innerText(), 'issued');
    number = await page.locator('#certificate-link').innerText();
    assert.match(number, /^[A-Z]+-\d{4}-\d{6}$/);
    assert.ok(await page.locator('figure.chart svg').isVisible(), 'the error chart is drawn');
    await shot(page, 'calibration-issued');
  });

  await check('approver: download the PDF exactly as issued, then verify it publicly', async () => {
    await page.locator('#certificate-link').click();
    await page.waitForURL(`${base}/certificates/${number}`);
    await shot(page, 'certificate');
    const listedHash = (await page.locator('code.hash').first().innerText()).trim();
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-pdf').click()]);
    const bytes = readFileSync(await download.path());
    assert.equal(bytes.subarray(0, 5).toString(), '%PDF-');
    assert.equal(createHash('sha256').update(bytes).digest('hex'), listedHash, 'the bytes issued');
    // The verification page needs no login: open it in a fresh context, as a phone would.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const verify = await phone.newPage();
    await verify.goto(`${base}/verify/${number}?sha256=${listedHash}`);
    assert.match(await verify.locator('#verdict').innerText(), /Genuine and current/);
    // The verdict's Chinese reads without CJK fonts on the device: the page's own subset face is
    // served, allowed by the CSP, and a font Chromium can load.
    const cjkFaces = await verify.evaluate(async () =>
      (await document.fonts.load('16px caltrace-cjk', '真实有效')).map((face) => face.status));
    assert.deepEqual(cjkFaces, ['loaded'], 'the CJK subset face loads');
    await shot(verify, 'verify-phone');
    await verify.goto(`${base}/verify/${number}?sha256=${'0'.repeat(64)}`);
    assert.match(await verify.locator('#verdict').innerText(), /NOT GENUINE/);
    await phone.close();
  });

  await check('auditor view: certificate list with filters', async () => {
    await page.getByRole('link', { name: 'Certificates' }).click();
    await page.getByLabel('Status').selectOption('issued');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=issued/);
    assert.ok(await page.getByRole('link', { name: number }).isVisible());
    await shot(page, 'certificates');
  });

  await check('calculator: a model by GUM and Monte Carlo side by side, histogram drawn', async () => {
    await page.getByRole('link', { name: 'Calculator' }).click();
    await page.waitForURL(`${base}/calculator`);
    await page.getByLabel('Monte Carlo trials').fill('100000');
    await page.getByLabel('Seed').fill('7');
    await page.getByRole('button', { name: 'Evaluate' }).click();
    await page.waitForSelector('#answer');
    assert.match(await page.locator('#gum').innerText(), /9\.8844 mW/, 'the GUM estimate of DESIGN 5b\'s example');
    assert.match(await page.locator('#monte-carlo').innerText(), /100000/);
    assert.ok(await page.locator('#answer svg[role=img]').isVisible(), 'the histogram is drawn');
    await shot(page, 'calculator');
  });

  await check('log out ends the session', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    await page.goto(`${base}/`);
    assert.match(page.url(), /\/login\?next=/);
  });
  console.log('e2e: all checks passed');
} finally {
  await browser.close();
}
