// Rekognition's bounding boxes over an image: each box an absolutely positioned element whose
// left/top/width/height are the fractions Rekognition gives, as percentages of the picture
// (CSSOM, which a strict CSP allows; no inline style attributes).
import { make, percent } from "./elements.js";

export function framedImage({ url, key, boxes }) {
  const frame = make("div", { className: "frame" });
  frame.append(make("img", { src: url, alt: key, loading: "lazy", decoding: "async" }));
  for (const box of boxes || []) frame.append(boxElement(box));
  return frame;
}

function boxElement(box) {
  const element = make("div", { className: "box", "data-label": box.label },
    make("span", { className: "box-label", text: box.confidence == null ? box.label : `${box.label} ${percent(box.confidence)}` }));
  const fraction = (value) => `${Math.min(Math.max(Number(value) || 0, 0), 1) * 100}%`;
  element.style.left = fraction(box.left);
  element.style.top = fraction(box.top);
  element.style.width = fraction(box.width);
  element.style.height = fraction(box.height);
  return element;
}

// The item's labels' Instances (object_summary) as boxes.
export function boxesOfLabels(labels) {
  const boxes = [];
  for (const label of labels || []) {
    for (const instance of label.instances || []) {
      const side = instance.BoundingBox || {};
      boxes.push({ label: label.name, confidence: instance.Confidence ?? null, left: side.Left, top: side.Top,
        width: side.Width, height: side.Height });
    }
  }
  return boxes;
}
