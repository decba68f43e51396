// The search view: labels typed (several with commas), results best first a page at a time.
import { apiGet } from "./api.js";
import { framedImage } from "./boxes.js";
import { announce, itemHash, make, percent, searchHash } from "./elements.js";
import { filmPlayer } from "./film.js";

const form = () => document.getElementById("search-form");
const input = () => document.getElementById("search-labels");
const minimum = () => document.getElementById("search-min-confidence");
const results = () => document.getElementById("search-results");
const more = () => document.getElementById("search-more");
const unknown = () => document.getElementById("search-unknown");

let current = null; // {labels, minConfidence, cursor, shown}
let knownLabels = null; // the catalog's labels, lower case, once loaded
let catalogLoading = null; // the catalog's request while it runs

// A search typed before the catalog has come waits for it: without it "cat cup" would be searched
// as the one label "cat cup" (which nothing has) right after sign-in.
export function waitForCatalog(loading) {
  catalogLoading = loading.catch(() => null);
}

// Commas separate labels ("Coffee Cup, Cat"). People also type "cat cup" for two labels: a piece
// with spaces that is no label of the library but whose every word is one is those labels. Until
// the catalog has loaded, a piece stays one label (the API then suggests the labels it knows).
export function parseLabels(text, known = knownLabels) {
  const pieces = text.split(",").map((label) => label.trim()).filter(Boolean);
  if (!known) return pieces;
  return pieces.flatMap((piece) => {
    const words = piece.split(/\s+/);
    if (words.length < 2 || known.has(piece.toLowerCase())) return [piece];
    return words.every((word) => known.has(word.toLowerCase())) ? words : [piece];
  });
}

export function setUpSearch() {
  form().addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!knownLabels && catalogLoading) await catalogLoading;
    const labels = parseLabels(input().value);
    if (!labels.length) return;
    const hash = searchHash(labels, minimum().value);
    if (location.hash === hash) showSearch(new URLSearchParams(hash.split("?")[1]));
    else location.hash = hash;
  });
  more().addEventListener("click", () => loadPage());
}

export async function showSearch(query) {
  const labels = query.getAll("label");
  const minConfidence = query.get("min_confidence") || "";
  input().value = labels.join(", ");
  minimum().value = minConfidence;
  results().replaceChildren();
  unknown().hidden = true;
  more().hidden = true;
  current = null;
  if (!labels.length) {
    announce("");
    return;
  }
  current = { labels, minConfidence, cursor: null, shown: 0 };
  await loadPage();
}

async function loadPage() {
  const search = current;
  more().disabled = true;
  announce(search.cursor ? "Loading more results…" : "Searching…");
  let answer;
  try {
    answer = await apiGet("/search", {
      label: search.labels,
      min_confidence: search.minConfidence,
      cursor: search.cursor,
    });
  } catch (error) {
    if (search === current) announce(error.message);
    return;
  } finally {
    more().disabled = false;
  }
  if (search !== current) return; // a newer search replaced this one
  const firstNew = results().children.length;
  results().append(...answer.hits.map(hitCard));
  search.shown += answer.hits.length;
  search.cursor = answer.next_cursor;
  more().hidden = !answer.next_cursor;
  if (answer.unknown && Object.keys(answer.unknown).length) showUnknown(answer.unknown, search);
  const wanted = search.labels.join(" + ");
  announce(search.shown
    ? `${search.shown} result${search.shown === 1 ? "" : "s"} for ${wanted}${answer.next_cursor ? ", more available" : ""}`
    : `No results for ${wanted}`);
  if (firstNew > 0) results().children[firstNew]?.querySelector("a")?.focus();
}

function showUnknown(unknownLabels, search) {
  const box = unknown();
  box.replaceChildren();
  for (const [label, suggestions] of Object.entries(unknownLabels)) {
    const line = make("p", {}, `No label “${label}” in the library.`);
    if (suggestions.length) {
      line.append(" Did you mean ");
      suggestions.forEach((suggestion, index) => {
        const labels = search.labels.map((one) => (one === label ? suggestion : one));
        if (index) line.append(", ");
        line.append(make("a", { href: searchHash(labels, search.minConfidence), text: suggestion }));
      });
      line.append("?");
    }
    box.append(line);
  }
  box.hidden = false;
}

export function hitCard(hit) {
  const media = hit.media === "video"
    ? filmPlayer({ url: hit.url, key: hit.key, segments: hit.segments })
    : framedImage({ url: hit.url, key: hit.key, boxes: hit.boxes });
  const labels = Object.entries(hit.labels || {})
    .map(([label, confidence]) => `${label} ${percent(confidence)}`).join(", ");
  return make("li", { className: `hit hit-${hit.media}` },
    media,
    make("p", { className: "hit-key" }, make("a", { href: itemHash(hit.key), text: hit.key })),
    make("p", { className: "hit-labels", text: labels }));
}

export function fillSuggestions(catalog) {
  knownLabels = new Set(catalog.map(({ label }) => label.toLowerCase()));
  const list = document.getElementById("label-suggestions");
  list.replaceChildren(...catalog.map(({ label }) => make("option", { value: label })));
}
