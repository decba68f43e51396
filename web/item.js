// The item view: one object with all its labels and confidences, a film's timeline, a failure's reason.
import { apiGet, NotFound } from "./api.js";
import { boxesOfLabels, framedImage } from "./boxes.js";
import { announce, make, percent, searchHash } from "./elements.js";
import { filmPlayer, rangeButtons } from "./film.js";

export async function showItem(query) {
  const key = query.get("key") || "";
  const title = document.getElementById("item-title");
  const body = document.getElementById("item-body");
  title.textContent = key;
  body.replaceChildren();
  let item;
  try {
    item = await apiGet("/item", { key });
  } catch (error) {
    announce(error instanceof NotFound ? error.message : `Could not load ${key}: ${error.message}`);
    return;
  }
  body.className = item.media === "video" ? "item-film" : "item-image";
  body.append(...itemParts(item));
  announce(`${key}: ${item.status}`);
}

export function itemParts(item) {
  const parts = [make("p", { className: "item-status" }, "Status: ", make("strong", { text: item.status }))];
  if (item.error) {
    parts.push(make("p", { className: "item-error", text: `Why it failed: ${item.error.message || item.error.code}` }));
  }
  const labels = item.labels || [];
  if (item.url && item.media === "video") {
    const player = filmPlayer({ url: item.url, key: item.key, segments: [] });
    const video = player.querySelector("video");
    parts.push(player, filmTimeline(labels, video, item));
  } else if (item.url) {
    parts.push(framedImage({ url: item.url, key: item.key, boxes: boxesOfLabels(labels) }));
    parts.push(labelTable(labels));
  } else if (labels.length) {
    parts.push(labelTable(labels));
  }
  return parts;
}

function labelLink(name) {
  return make("a", { href: searchHash([name]), text: name });
}

function labelTable(labels) {
  if (!labels.length) return make("p", { text: "No labels." });
  return make("table", { className: "labels" },
    make("caption", { text: "Labels, most confident first" }),
    make("thead", {}, make("tr", {}, make("th", { scope: "col", text: "Label" }),
      make("th", { scope: "col", text: "Confidence" }))),
    make("tbody", {}, labels.map((label) => make("tr", {},
      make("td", {}, labelLink(label.name)), make("td", { text: percent(label.confidence) })))));
}

function filmTimeline(labels, video, item) {
  if (!labels.length) return make("p", { text: "No labels." });
  const duration = Number(item.duration_ms) || 0;
  return make("table", { className: "labels timeline" },
    make("caption", { text: "Labels and when they are on screen" }),
    make("thead", {}, make("tr", {}, make("th", { scope: "col", text: "Label" }),
      make("th", { scope: "col", text: "Confidence" }), make("th", { scope: "col", text: "On screen" }))),
    make("tbody", {}, labels.map((label) => make("tr", {},
      make("td", {}, labelLink(label.name)),
      make("td", { text: percent(label.confidence) }),
      make("td", {}, timelineBar(label.segments, duration), rangeButtons(video, label.segments, label.name))))));
}

// A bar of the film's length with the label's stretches marked (decoration: the buttons say the same).
function timelineBar(segments, duration) {
  const bar = make("div", { className: "timeline-bar", "aria-hidden": "true" });
  if (!duration) return bar;
  for (const { start_ms, end_ms } of segments) {
    const mark = make("span", { className: "timeline-mark" });
    mark.style.left = `${(start_ms / duration) * 100}%`;
    mark.style.width = `${(Math.max(end_ms - start_ms, 0) / duration) * 100}%`;
    bar.append(mark);
  }
  return bar;
}
