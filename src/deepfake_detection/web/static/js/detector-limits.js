// What the detectors can and cannot do: one text (static/content/detector-limits.md, the README's section
// of that name) shown in full on its own page, and its first paragraph as a line under every verdict.

import { errorState, h, loadingState, mount } from "./dom.js";

export const LIMITS_PATH = "/about-detectors";
const SOURCE = "/assets/content/detector-limits.md";
const LINK_TEXT = "What these detectors can and cannot do";

let cached = null;
let loaded = null;

/** The text as blocks: {list: [items]} or {paragraph: text} (fetched once per page load; a failure is retried). */
export function loadDetectorLimits() {
  if (!cached) {
    cached = fetch(SOURCE, { headers: { Accept: "text/markdown, text/plain" } })
      .then((response) => {
        if (!response.ok) throw new Error(`the text could not be loaded (${response.status})`);
        return response.text();
      })
      .then((text) => {
        loaded = parseBlocks(text);
        return loaded;
      });
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}

/** The small part of Markdown the text uses: paragraphs, "- " lists, **bold** and `code`. */
function parseBlocks(text) {
  return text
    .replace(/<!--[\s\S]*?-->/g, "")
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .filter(Boolean)
    .map((block) => {
      const lines = block.split("\n").map((line) => line.trim());
      if (lines.every((line) => line.startsWith("- "))) return { list: lines.map((line) => line.slice(2)) };
      return { paragraph: lines.join(" ") };
    });
}

/** Inline **bold** and `code` as elements (never parsed as HTML). */
function inline(text) {
  return text.split(/(\*\*[^*]+\*\*|`[^`]+`)/).filter(Boolean).map((part) => {
    if (part.startsWith("**") && part.endsWith("**")) return h("strong", {}, part.slice(2, -2));
    if (part.startsWith("`") && part.endsWith("`")) return h("code", {}, part.slice(1, -1));
    return part;
  });
}

/** The first paragraph without its markup: the one-line summary. */
function summaryOf(blocks) {
  const first = blocks.find((block) => block.paragraph);
  return first ? first.paragraph.replace(/\*\*|`/g, "") : "";
}

/** The permanent line under a verdict: the summary and a link to the full text. */
export function limitsLine({ id } = {}) {
  const summary = h("span", { class: "limits-summary" });
  const line = h("p", { class: "limits-line", id, "data-limits-line": true }, summary, h("a", { href: `#${LIMITS_PATH}` }, `${LINK_TEXT}.`));
  const fill = (blocks) => {
    const text = summaryOf(blocks);
    summary.textContent = text ? `${text} ` : "";
  };
  // Once loaded the line is complete at once (the camera redraws its verdict every frame).
  if (loaded) fill(loaded);
  else loadDetectorLimits().then(fill).catch(() => {
    /* the link alone still leads to the full text */
  });
  return line;
}

/** The page with the full text. */
export async function renderDetectorLimits(main, { signal }) {
  const body = h("div", { class: "prose", id: "detector-limits" }, loadingState("Loading…"));
  mount(
    main,
    h("div", { class: "page-header" }, h("div", {}, h("h1", {}, LINK_TEXT), h("p", { class: "subtitle" }, "Read this before relying on a verdict."))),
    h("section", { class: "card" }, body),
  );
  let blocks;
  try {
    blocks = await loadDetectorLimits();
  } catch (error) {
    if (!signal.aborted) mount(body, errorState(`Could not load the text: ${error.message}`));
    return;
  }
  if (signal.aborted) return;
  mount(
    body,
    blocks.map((block) => (block.list ? h("ul", {}, block.list.map((item) => h("li", {}, inline(item)))) : h("p", {}, inline(block.paragraph)))),
  );
}
