// A film: a <video> that starts at its first range, and a button per range that seeks to it.
import { make } from "./elements.js";

export function clock(milliseconds) {
  const seconds = Math.floor(milliseconds / 1000);
  return `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
}

export function rangeText({ start_ms, end_ms }) {
  return `${clock(start_ms)}-${clock(end_ms)}`;
}

export function filmPlayer({ url, key, segments }) {
  const first = segments && segments.length ? segments[0].start_ms / 1000 : 0;
  const video = make("video", {
    src: first ? `${url}#t=${first}` : url,
    controls: true,
    preload: "metadata",
    "aria-label": key,
  });
  const player = make("div", { className: "film" }, video);
  if (segments && segments.length) player.append(rangeButtons(video, segments, key));
  return player;
}

export function rangeButtons(video, segments, name) {
  return make("ul", { className: "ranges", "aria-label": `On screen in ${name}` },
    segments.map((segment) => make("li", {},
      make("button", {
        type: "button",
        className: "range",
        text: rangeText(segment),
        "aria-label": `Play ${rangeText(segment)}`,
        onclick: () => {
          video.currentTime = segment.start_ms / 1000;
          video.play().catch(() => {}); // a browser may refuse to start playing; the seek stands
        },
      }))));
}
