// The web UI's one stylesheet, served at /static/style.css (render/ui.h StyleSheet): system
// fonts, a centred column of at most 72rem, light and dark colours (prefers-color-scheme), and
// layouts that collapse to one column on a phone. No external resources (the CSP allows none).
#include "render/ui.h"

namespace pydepot::render {
namespace {

constexpr std::string_view kStyleSheet = R"css(/* pydepot */
:root {
  color-scheme: light dark;
  --bg: #ffffff;
  --fg: #1b1f24;
  --muted: #57606a;
  --border: #d8dee4;
  --surface: #f6f8fa;
  --code-bg: #eff1f3;
  --accent: #0a58ca;
  --accent-hover: #084298;
  --accent-fg: #ffffff;
  --header-bg: #16324f;
  --header-fg: #ffffff;
  --header-muted: #b9c6d3;
  --warn-bg: #fff8c5;
  --warn-border: #d4a72c;
  --ok-bg: #dafbe1;
  --ok-border: #4ac26b;
  --danger: #c62828;
  --danger-hover: #a31515;
  --radius: 6px;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono",
    monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1419;
    --fg: #e6e9ee;
    --muted: #9aa5b1;
    --border: #30363d;
    --surface: #161b22;
    --code-bg: #1f252d;
    --accent: #6cb6ff;
    --accent-hover: #96ccff;
    --accent-fg: #0f1419;
    --header-bg: #0b1d30;
    --header-fg: #f0f3f6;
    --header-muted: #9fb0c2;
    --warn-bg: #3b2e05;
    --warn-border: #9e7a16;
    --ok-bg: #0f2e1a;
    --ok-border: #2e8b4f;
    --danger: #f47067;
    --danger-hover: #ff938a;
  }
}

*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0;
  min-height: 100vh;
  display: flex;
  flex-direction: column;
  background: var(--bg);
  color: var(--fg);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans",
    "Liberation Sans", Arial, sans-serif;
  font-size: 1rem;
  line-height: 1.55;
}
main { flex: 1 0 auto; width: 100%; padding-top: 1.5rem; padding-bottom: 2.5rem; }
.wrap { max-width: 72rem; margin: 0 auto; padding-left: 1rem; padding-right: 1rem; }

a { color: var(--accent); text-decoration: none; }
a:hover { color: var(--accent-hover); text-decoration: underline; }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible,
summary:focus-visible {
  outline: 2px solid var(--accent);
  outline-offset: 2px;
}
h1, h2, h3 { line-height: 1.25; margin: 1.5rem 0 0.75rem; }
h1 { font-size: 1.9rem; margin-top: 0.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.35rem; }
h3 { font-size: 1.1rem; }
p { margin: 0.75rem 0; }
code, pre, kbd, samp { font-family: var(--mono); font-size: 0.9em; }
code { background: var(--code-bg); border-radius: 4px; padding: 0.1em 0.35em; }
pre {
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  padding: 0.75rem 1rem;
  overflow-x: auto;
  line-height: 1.45;
}
pre code { background: none; padding: 0; border-radius: 0; font-size: inherit; }
img { max-width: 100%; height: auto; }
hr { border: 0; border-top: 1px solid var(--border); margin: 1.5rem 0; }
.muted, .help { color: var(--muted); }
.help { font-size: 0.9rem; }
.empty { color: var(--muted); font-style: italic; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap;
}

/* Site header and footer */
.site-header { background: var(--header-bg); color: var(--header-fg); }
.header-inner {
  display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem;
  padding-top: 0.6rem; padding-bottom: 0.6rem;
}
.brand { color: var(--header-fg); font-weight: 700; font-size: 1.25rem; letter-spacing: 0.01em; }
.brand:hover { color: var(--header-fg); text-decoration: none; opacity: 0.9; }
.site-header .search { flex: 1 1 16rem; max-width: 32rem; }
.site-nav { display: flex; align-items: center; gap: 1rem; margin-left: auto; }
.site-nav a { color: var(--header-fg); }
.site-nav .who { color: var(--header-muted); }
.site-footer {
  border-top: 1px solid var(--border);
  background: var(--surface);
  color: var(--muted);
  font-size: 0.9rem;
}
.site-footer p { margin: 1rem 0; }

/* Forms */
input, select, textarea, button { font: inherit; color: inherit; }
input, select, textarea {
  background: var(--bg);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  padding: 0.45rem 0.6rem;
  min-width: 0;
  max-width: 100%;
}
button {
  cursor: pointer;
  background: var(--accent);
  color: var(--accent-fg);
  border: 1px solid transparent;
  border-radius: var(--radius);
  padding: 0.45rem 0.9rem;
  font-weight: 600;
  white-space: nowrap;
}
button:hover { background: var(--accent-hover); }
button.danger { background: transparent; color: var(--danger); border-color: var(--danger); }
button.danger:hover { background: var(--danger); color: #ffffff; }
form.inline { display: inline-block; margin: 0.25rem 0; }
td form.inline { margin: 0; }
td.actions { text-align: right; white-space: nowrap; }
form.row { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem; margin: 0.75rem 0; }
form.row input:not([type="hidden"]) { flex: 1 1 12rem; }
form.stack { display: grid; gap: 0.35rem; max-width: 32rem; }
form.stack label { font-weight: 600; margin-top: 0.6rem; }
form.stack .actions { margin-top: 1rem; }
.search { display: flex; gap: 0.4rem; }
.search input { flex: 1 1 auto; width: 100%; }
.site-header .search input { border-color: transparent; }
.search-large { max-width: 40rem; margin: 1rem 0 1.5rem; }
.search-large input { font-size: 1.1rem; padding: 0.6rem 0.8rem; }

/* Blocks */
.card {
  border: 1px solid var(--border);
  border-radius: var(--radius);
  background: var(--surface);
  padding: 0.5rem 1.25rem;
  margin: 1.25rem 0;
}
.card > h2:first-child, .card > h3:first-child, .card > h1:first-child { margin-top: 0.75rem; }
.narrow { max-width: 28rem; margin-left: auto; margin-right: auto; }
.notice {
  border: 1px solid var(--border);
  border-left: 4px solid var(--accent);
  border-radius: var(--radius);
  background: var(--surface);
  padding: 0.6rem 1rem;
  margin: 1rem 0;
}
.notice p { margin: 0.4rem 0; }
.notice.warning { background: var(--warn-bg); border-color: var(--warn-border); }
.notice.success { background: var(--ok-bg); border-color: var(--ok-border); }
.danger-zone { border-color: var(--danger); }
.danger-zone h2 { color: var(--danger); }
.secret { display: inline-block; font-size: 1rem; padding: 0.4rem 0.6rem; word-break: break-all; }
.badge {
  display: inline-block;
  font-size: 0.75rem;
  font-weight: 600;
  line-height: 1.4;
  padding: 0.05rem 0.45rem;
  border-radius: 999px;
  border: 1px solid var(--border);
  color: var(--muted);
  vertical-align: middle;
}
.badge-warn { border-color: var(--warn-border); background: var(--warn-bg); color: var(--fg); }
.badge-ok { border-color: var(--ok-border); background: var(--ok-bg); color: var(--fg); }
.tag {
  display: inline-block;
  background: var(--code-bg);
  border-radius: 999px;
  padding: 0 0.6rem;
  margin: 0 0.25rem 0.25rem 0;
  font-size: 0.9rem;
}
.breadcrumb { color: var(--muted); margin: 0 0 0.25rem; }

/* Tables */
.table-wrap { overflow-x: auto; margin: 0.75rem 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
th, td {
  text-align: left;
  vertical-align: top;
  padding: 0.45rem 0.6rem;
  border-bottom: 1px solid var(--border);
}
th { font-weight: 600; color: var(--muted); white-space: nowrap; }
td.filename { overflow-wrap: anywhere; min-width: 12rem; }
tr.expired td { color: var(--muted); }
.hash { word-break: break-all; font-size: 0.8rem; }
time, .size { white-space: nowrap; }

/* Home and search */
.hero { padding: 0.5rem 0 0.25rem; }
.lead { font-size: 1.15rem; color: var(--muted); margin-top: 0; }
.home-columns { display: grid; gap: 0 2.5rem; grid-template-columns: minmax(0, 1fr); }
.project-list, .results, .all-projects { padding-left: 0; list-style: none; margin: 0; }
.project-list li, .results li {
  display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0 1rem;
  padding: 0.45rem 0; border-bottom: 1px solid var(--border);
}
.project-list time, .results .muted { color: var(--muted); font-size: 0.9rem; }
.all-projects { columns: 14rem auto; column-gap: 2rem; }
.all-projects li { break-inside: avoid; padding: 0.15rem 0; overflow-wrap: anywhere; }
.result-count { color: var(--muted); }

/* Project and release pages */
.project-header { padding-bottom: 0.25rem; }
.project-header h1 .version { color: var(--muted); font-weight: 500; }
.summary { font-size: 1.15rem; margin-top: 0; }
.install {
  display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem;
  margin: 1rem 0;
}
.install-label { font-weight: 600; color: var(--muted); }
#pip-install {
  display: inline-block;
  padding: 0.45rem 0.75rem;
  border: 1px solid var(--border);
  background: var(--surface);
  font-size: 0.95rem;
  overflow-wrap: anywhere;
}
.released { color: var(--muted); margin: 0.25rem 0; }
.page-nav {
  display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem;
  border-bottom: 1px solid var(--border);
  padding: 0.5rem 0;
  margin: 1rem 0 0.5rem;
}
.project-layout { display: grid; gap: 0 2.5rem; grid-template-columns: minmax(0, 1fr); }
.project-side h2 { font-size: 1.15rem; }
.versions { list-style: none; padding: 0; margin: 0; }
.versions li { padding: 0.35rem 0; border-bottom: 1px solid var(--border); }
.versions a[aria-current="page"] { font-weight: 700; color: var(--fg); }
.versions time { color: var(--muted); font-size: 0.85rem; margin-left: 0.25rem; }
.versions li.yanked > a { text-decoration: line-through; }
.yank-reason { color: var(--muted); font-size: 0.9rem; overflow-wrap: anywhere; }
dl.meta { margin: 0.5rem 0; }
dl.meta dt { font-weight: 600; color: var(--muted); font-size: 0.9rem; }
dl.meta dd { margin: 0 0 0.6rem; overflow-wrap: anywhere; }
.links, .deps { padding-left: 1.1rem; margin: 0.5rem 0; overflow-wrap: anywhere; }
.classifiers dt { font-weight: 600; margin-top: 0.5rem; }
.classifiers dd { margin-left: 1rem; font-size: 0.9rem; }
.license-text { white-space: pre-wrap; font-size: 0.8rem; max-height: 24rem; }
.email, .url { overflow-wrap: anywhere; }
.manage-link { margin-top: 1.5rem; }

/* Descriptions */
.description { overflow-wrap: break-word; }
.description h1 { font-size: 1.5rem; }
.description h2 { font-size: 1.3rem; }
.description h3 { font-size: 1.15rem; }
.description h4, .description h5, .description h6 { font-size: 1rem; }
.description h1, .description h2 {
  padding-bottom: 0.3rem; border-bottom: 1px solid var(--border);
}
.description table { display: block; overflow-x: auto; width: max-content; max-width: 100%; }
.description th, .description td { border: 1px solid var(--border); }
.description blockquote {
  margin: 1rem 0; padding: 0 1rem; color: var(--muted);
  border-left: 4px solid var(--border);
}
.description li > input[type="checkbox"] { margin-right: 0.4rem; }
.description-text { white-space: pre-wrap; overflow-wrap: anywhere; }

/* Manage pages */
.release-card h2 .badge { font-size: 0.8rem; }
.user-card form.row label { font-weight: 600; }

/* Wider screens */
@media (min-width: 48rem) {
  h1 { font-size: 2.2rem; }
  .home-columns { grid-template-columns: minmax(0, 2fr) minmax(0, 3fr); }
  .project-layout { grid-template-columns: minmax(0, 1fr) 19rem; }
}
/* Phones: table rows become blocks, each cell labelled */
@media (max-width: 40rem) {
  table.stack-sm, table.stack-sm tbody, table.stack-sm tr, table.stack-sm td {
    display: block;
    width: 100%;
  }
  table.stack-sm thead {
    position: absolute; width: 1px; height: 1px; overflow: hidden;
    clip: rect(0 0 0 0); white-space: nowrap;
  }
  table.stack-sm tr { border-bottom: 1px solid var(--border); padding: 0.5rem 0; }
  table.stack-sm td { border: 0; padding: 0.1rem 0; min-width: 0; }
  table.stack-sm td[data-label]::before {
    content: attr(data-label) ": ";
    font-weight: 600;
    color: var(--muted);
  }
  table.stack-sm td.filename { font-weight: 600; }
  table.stack-sm td.actions { text-align: left; padding-top: 0.35rem; }
}
@media (max-width: 30rem) {
  .site-header .search { order: 3; flex-basis: 100%; max-width: none; }
  main { padding-top: 1rem; }
  .card { padding: 0.25rem 0.85rem; }
  th, td { padding: 0.4rem; }
}
@media print {
  .site-header, .site-footer, .page-nav, form { display: none; }
}
)css";

}  // namespace

std::string_view StyleSheet() { return kStyleSheet; }

}  // namespace pydepot::render
